//! `pulldoctor image`: the CI smoke check — can a node pull these references, per platform?

use std::io::Read;

use super::input::read_text;
use super::probing::Prober;
use crate::authfile::{self, Authfile, Helpers};
use crate::cli::ImageArgs;
use crate::config::Common;
use crate::credentials::ImageCredentials;
use crate::diagnose::{self, Audience, Evidence, ProbeFacts};
use crate::redacted::Redacted;
use crate::registry::{ImageRef, Platform};
use crate::report::{Report, Summary};
use crate::taxonomy::Runtime;

/// Where the command line's credentials come from.
enum Creds {
    /// `--creds` or `--username` + `--password-stdin`.
    Flags {
        source: &'static str,
        username: String,
        password: Redacted,
    },
    /// An authfile (explicit or docker's default), or nothing at all.
    File(Option<Authfile>),
    /// kubelet's keyring over the pod's pull secrets (`node-probe`).
    Keyring(Keyring),
}

/// What kubelet would try for one image: `node-probe`'s secret volumes, matched like a pod's.
pub(super) type Keyring = Box<dyn Fn(&ImageRef) -> ImageCredentials + Send + Sync>;

/// Probes every reference for every platform.
pub async fn run(args: &ImageArgs, common: &Common) -> crate::Result<Report> {
    run_with(args, common, None).await
}

/// The same pipeline for `node-probe`: the node's own pull (its wording, kubelet's keyring
/// over the secret volumes) instead of the CI job's flags and authfile.
pub(super) async fn run_with(
    args: &ImageArgs,
    common: &Common,
    keyring: Option<Keyring>,
) -> crate::Result<Report> {
    let on_node = keyring.is_some();
    let prober = Prober::new(&args.probe, common)?;
    let prober = if on_node { prober } else { prober.for_ci() };
    let prober = prober.with_node(crate::config::NodeSettings::from_args(&args.node)?);
    let audience = if on_node {
        Audience::Cluster
    } else {
        Audience::Ci
    };
    let refs = references(args)?;
    let platforms = platforms(args)?;
    let creds = match keyring {
        Some(k) => Creds::Keyring(k),
        None => credentials(args)?,
    };
    let helpers = Helpers {
        timeout: common.timeout,
        ..Helpers::default()
    };
    let mut report = Report::new("image");
    let mut verdicts = Vec::new();
    for raw in &refs {
        let image_ref = ImageRef::parse(raw);
        for platform in &platforms {
            let ev = match &image_ref {
                Err(e) => {
                    let mut s = crate::classify::classify(Some("InvalidImageName"), &e.to_string());
                    s.cause = crate::taxonomy::Cause::InvalidReference;
                    s.family = s.cause.family();
                    Evidence {
                        image: raw.clone(),
                        symptom: Some(s),
                        probe: ProbeFacts::NotRun(format!("not a valid reference: {e}")),
                        audience,
                        ..Evidence::default()
                    }
                }
                Ok(r) => {
                    let ic = match &creds {
                        Creds::Flags {
                            source,
                            username,
                            password,
                        } => authfile::from_flags(source, username, password.clone(), r),
                        Creds::File(Some(f)) => authfile::credentials_for(f, r, &helpers).await,
                        Creds::Keyring(k) => k(r),
                        Creds::File(None) => ImageCredentials {
                            image: r.original.clone(),
                            tries: Vec::new(),
                            anonymous: true,
                            findings: Vec::new(),
                        },
                    };
                    let probe = match prober.skip_reason(Some(r)) {
                        Some(skip) => skip,
                        None => {
                            let rep = prober
                                .probe(
                                    r,
                                    super::creds::auths(&ic),
                                    platform,
                                    true,
                                    Runtime::Unknown,
                                )
                                .await?;
                            let mut facts = prober.facts(&rep);
                            if args.require_verified_tls {
                                super::probing::require_verified(&mut facts);
                            }
                            facts
                        }
                    };
                    Evidence {
                        image: label(raw, platform, platforms.len()),
                        image_ref: Some(r.clone()),
                        credentials: Some(super::creds::facts(&ic, r)),
                        probe,
                        audience,
                        ..Evidence::default()
                    }
                }
            };
            verdicts.push(diagnose::diagnose(&ev));
        }
    }
    report.summary = Summary::of(&verdicts);
    report.notes.extend(prober.notes());
    report.insecure_transport = prober.insecure_transport();
    report.node_config = prober.node_configs();
    report.verdicts = Some(verdicts);
    Ok(report)
}

/// `ref` alone, or `ref (os/arch)` when several platforms are checked.
fn label(raw: &str, platform: &Platform, count: usize) -> String {
    if count > 1 {
        format!("{raw} ({platform})")
    } else {
        raw.to_string()
    }
}

/// References from the arguments and `--file` (one per line, `#` comments and blanks skipped).
fn references(args: &ImageArgs) -> crate::Result<Vec<String>> {
    let mut refs = args.refs.clone();
    if let Some(path) = &args.file {
        let text = read_text(&path.to_string_lossy())?;
        refs.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    if refs.is_empty() {
        return Err(crate::Error::Usage(
            "name at least one image reference (or --file)".into(),
        ));
    }
    Ok(refs)
}

fn platforms(args: &ImageArgs) -> crate::Result<Vec<Platform>> {
    if args.platforms.is_empty() {
        return Ok(vec![Platform::new("linux", "amd64", None)]);
    }
    args.platforms
        .iter()
        .map(|p| Platform::parse(p).map_err(|e| crate::Error::Usage(format!("--platform: {e}"))))
        .collect()
}

/// Longest password `--password-stdin` takes (docker's own limit is far lower in practice).
const MAX_PASSWORD: u64 = 64 * 1024;

fn credentials(args: &ImageArgs) -> crate::Result<Creds> {
    if let Some(c) = &args.creds {
        let (username, password) = authfile::parse_creds(c)?;
        return Ok(Creds::Flags {
            source: "--creds",
            username,
            password,
        });
    }
    if let Some(username) = &args.username {
        // A byte past the cap (after docker's one trailing newline) tells a password too long
        // from one that fits: refuse it, never cut it.
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_PASSWORD + 3)
            .read_to_end(&mut bytes)
            .map_err(crate::Error::Stdin)?;
        let password = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let password = password.strip_suffix(b"\r").unwrap_or(password);
        if password.len() as u64 > MAX_PASSWORD {
            return Err(crate::Error::Usage(format!(
                "--password-stdin: the password is longer than {} KiB, which no registry takes; is the wrong file piped in?",
                MAX_PASSWORD / 1024
            )));
        }
        let password = std::str::from_utf8(password).map_err(|_| {
            crate::Error::Usage("--password-stdin: the password is not UTF-8 text".into())
        })?;
        return Ok(Creds::Flags {
            source: "--username/--password-stdin",
            username: username.clone(),
            password: Redacted::new(password),
        });
    }
    Ok(Creds::File(authfile::load(args.authfile.as_deref())?))
}
