//! Renderers: human (miette), short (one line each), and JSON.
