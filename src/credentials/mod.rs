//! Pure: pull secrets decoded and matched to images exactly as kubelet's keyring does.
//!
//! (Placeholder while the module is being written; see issue 4.)
