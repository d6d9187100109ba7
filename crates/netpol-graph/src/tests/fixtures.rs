//! Fixture cases in `testdata/reach/`.
