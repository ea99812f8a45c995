//! Issue #9 tests: issue9_signals_outputs.
