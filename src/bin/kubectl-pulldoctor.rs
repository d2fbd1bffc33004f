//! The kubectl plugin entry point: kubectl runs `kubectl-pulldoctor` for `kubectl pulldoctor …`.
//!
//! It is the same program as `pulldoctor`; `main` sees the binary's name and speaks of itself
//! as `kubectl pulldoctor` in help and messages.

#[path = "../main.rs"]
mod entry;

fn main() -> std::process::ExitCode {
    entry::main()
}
