package state

// SetMaxIncrementalKeep lowers the table size up to which incremental
// reads keep unchanged rows, so a test can take the other path; it
// returns the function that restores it.
func SetMaxIncrementalKeep(n int) (restore func()) {
	old := maxIncrementalKeep
	maxIncrementalKeep = n
	return func() { maxIncrementalKeep = old }
}
