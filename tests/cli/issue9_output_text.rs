//! Issue #9 tests: issue9_output_text.
