//! `pulldoctor scan` end to end (written next).
