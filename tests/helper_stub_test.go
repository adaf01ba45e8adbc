package tests

func runHelper(mode string) int { return 2 }
