#ifndef HUSK_SIGFWD_H
#define HUSK_SIGFWD_H

// sigfwd_install catches sigs with a handler that writes each signal's
// number as one byte to fd. It returns 0, or the signal it could not catch.
int sigfwd_install(int fd, const int *sigs, int n);

#endif
