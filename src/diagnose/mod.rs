//! Pure: evidence becomes a verdict, and a verdict becomes fixes.
//!
//! (Placeholder while the module is being written; see issue 6.)
