//! Issue #9 tests: issue9_build.
