// Collector.
