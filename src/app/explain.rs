//! `pulldoctor explain`: classify pasted `kubectl describe` / `get events` text or one message.

use super::input::read_text;
use crate::classify;
use crate::cli::ExplainArgs;
use crate::report::{Report, Summary};

/// Classifies the input into one symptom per failing image.
pub fn run(args: &ExplainArgs) -> crate::Result<Report> {
    let symptoms = if let Some(message) = &args.message {
        vec![classify::classify(args.reason.as_deref(), message)]
    } else {
        let source = args.input.as_deref().unwrap_or("-");
        if source == "-" && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(crate::Error::Usage(
                "explain reads text from a file or stdin: pipe `kubectl describe pod NAME` into `pulldoctor explain -`, or pass --message".to_string(),
            ));
        }
        classify::symptoms_from_text(&read_text(source)?)
    };
    let mut report = Report::new("explain");
    report.summary = Summary {
        problems: symptoms.len(),
        healthy: 0,
        ..Summary::default()
    };
    report.symptoms = Some(symptoms);
    Ok(report)
}
