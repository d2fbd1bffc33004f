//! Pure: evidence becomes a verdict, and a verdict becomes fixes.
//!
//! The verdict weighs the event text against the registry's own answer: the probe confirms the
//! classification, settles an ambiguous one ("may require 'docker login'" becomes auth or not
//! found), or contradicts it — old Docker's "not found" that is really a missing login is the
//! second field report's story. Without a probe the text alone gives a `likely` verdict.

mod ci_fix;
mod ci_words;
pub mod evidence;
pub mod fix;
mod image_fix;
pub mod names;
mod node_fix;
mod owner_fix;
mod policy_fix;
mod secret_fix;
pub mod shell;
pub mod step;
mod story;
pub mod verdict;

pub use evidence::{
    Audience, ContainerInfo, CredentialFacts, CredentialFinding, CredentialLabel, Evidence,
    FailureSeen, FixTarget, NodeEdit, NodeFacts, ProbeFacts, ProbeResult,
};
pub use image_fix::{TagRank, tag_rank};
pub use step::{Fix, FixKind};
pub use story::{FixSection, SecondaryCause};
pub use verdict::{Confidence, EvidenceLine, Verdict, diagnose};
