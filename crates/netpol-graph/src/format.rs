//! Output formats of the matrix.
