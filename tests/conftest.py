"""Root test configuration: shared markers' skip rules live in the fixtures of each sub-suite."""
