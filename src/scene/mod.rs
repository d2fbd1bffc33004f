//! Gathering a pod's scene from a live cluster or a snapshot file.
//!
//! (Placeholder while the module is being written; see issue 6.)
