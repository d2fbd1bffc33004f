//! The one `Report` model, and the renderers that draw it.
//!
//! (Placeholder while the module is being written; see issue 6.)
