// The memory-mapped journal.
