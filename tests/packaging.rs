//! Shell completions and manual pages, generated from the clap definitions:
//! bash really completes the subcommands and flags, and every page renders
//! through groff without warnings and documents every flag `--help` lists.
//!
//! Needs `bash` and `groff` (Debian's groff-base); without them a test says
//! "skipped" and passes, except in CI (`CI` set), where it fails.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{TempDir, can_run, missing_tool, output_with_stdin, vendorwatch};

/// Every command that has a page: the top level and each subcommand path.
const COMMANDS: &[&[&str]] =
    &[&[], &["replay"], &["live"], &["signatures"], &["signatures", "check"], &["explain"], &["completions"], &["man"]];

fn run_ok(args: &[&str]) -> String {
    let out = vendorwatch(args);
    assert_eq!(out.code, Some(0), "vendorwatch {args:?}: {}", out.stderr);
    out.stdout
}

/// The long flags `vendorwatch COMMAND --help` lists.
fn help_flags(command: &[&str]) -> BTreeSet<String> {
    let mut args = command.to_vec();
    args.push("--help");
    let help = run_ok(&args);
    let flags: BTreeSet<String> = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .filter_map(|l| l.split(|c: char| c.is_whitespace() || c == ',').find(|w| w.starts_with("--")))
        .map(str::to_owned)
        .collect();
    assert!(flags.contains("--help"), "no flags parsed from {command:?} --help:\n{help}");
    flags
}

/// The subcommands `vendorwatch COMMAND --help` lists.
fn help_subcommands(command: &[&str]) -> Vec<String> {
    let mut args = command.to_vec();
    args.push("--help");
    let help = run_ok(&args);
    let Some((_, listed)) = help.split_once("Commands:\n") else { return Vec::new() };
    listed
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// What bash's completion function offers for `line` (the last word is
/// the one being completed).
fn bash_complete(script: &std::path::Path, line: &str) -> BTreeSet<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT={}\n\
         _vendorwatch vendorwatch '{}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        line.len(),
        words[cword],
    );
    let out = Command::new("bash").arg("-c").arg(&program).output().expect("run bash");
    assert!(out.status.success(), "bash completion for {line:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_owned).collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    if !can_run("bash_completes_subcommands_and_flags", missing_tool(&["bash"])) {
        return;
    }
    let dir = TempDir::new("completions");
    let script = dir.path("vendorwatch.bash");
    std::fs::write(&script, run_ok(&["completions", "bash"])).unwrap();

    let top = bash_complete(&script, "vendorwatch ");
    let subcommands = help_subcommands(&[]);
    assert!(subcommands.len() >= 6, "subcommands parsed from --help: {subcommands:?}");
    for sub in subcommands.iter().chain(["replay".to_owned(), "completions".to_owned(), "man".to_owned()].iter()) {
        assert!(top.contains(sub), "`vendorwatch <TAB>` offers {sub}: {top:?}");
    }
    assert_eq!(bash_complete(&script, "vendorwatch rep"), BTreeSet::from(["replay".to_owned()]));

    for command in [&["live"][..], &["replay"], &["signatures", "check"]] {
        let line = format!("vendorwatch {} --", command.join(" "));
        let offered = bash_complete(&script, &line);
        let flags = help_flags(command);
        assert!(flags.is_subset(&offered), "`{line}<TAB>` offers {offered:?}, --help lists {flags:?}");
    }
    assert!(bash_complete(&script, "vendorwatch live --").contains("--interface"));

    let mut shells = bash_complete(&script, "vendorwatch completions ");
    shells.retain(|w| !w.starts_with('-'));
    let want: BTreeSet<String> = ["bash", "elvish", "fish", "powershell", "zsh"].map(str::to_owned).into();
    assert_eq!(shells, want, "`vendorwatch completions <TAB>` offers the shells");
}

#[test]
fn every_shell_gets_a_script_naming_the_subcommands() {
    let subcommands = help_subcommands(&[]);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run_ok(&["completions", shell]);
        for sub in &subcommands {
            assert!(script.contains(sub.as_str()), "{shell} completions name {sub}");
        }
        // fish writes long flags as `-l interface`.
        assert!(script.contains("interface") && script.contains("flows-out"), "{shell} completions name flags");
    }
    let out = vendorwatch(&["completions", "tcsh"]);
    assert_eq!(out.code, Some(2), "an unknown shell is a usage error");
    assert!(out.stderr.contains("possible values"), "{}", out.stderr);
}

/// `roff` rendered by groff as plain text, with warnings turned on; panics
/// if groff warns.
fn render(roff: &str, what: &str) -> String {
    let mut groff = Command::new("groff");
    groff.args(["-man", "-Tascii", "-ww", "-rLL=300n", "-rHY=0", "-P-bcu"]);
    let out = output_with_stdin(&mut groff, roff.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff on {what}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn manual_pages_render_with_every_subcommand_and_flag() {
    if !can_run("manual_pages_render_with_every_subcommand_and_flag", missing_tool(&["groff"])) {
        return;
    }
    let dir = TempDir::new("man");
    run_ok(&["man", "--dir", &dir.0.display().to_string()]);
    let mut written: Vec<String> =
        std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    let mut want: Vec<String> = COMMANDS
        .iter()
        .map(|c| if c.is_empty() { "vendorwatch.1".into() } else { format!("vendorwatch-{}.1", c.join("-")) })
        .collect();
    want.sort();
    assert_eq!(written, want, "man --dir writes one page per command");

    for command in COMMANDS {
        let mut args = vec!["man"];
        args.extend_from_slice(command);
        let roff = run_ok(&args);
        let file = dir.path(&want.iter().find(|f| **f == page_name(command)).unwrap().clone());
        assert_eq!(std::fs::read_to_string(file).unwrap(), roff, "man {command:?} prints the page --dir writes");
        assert!(roff.contains(".TH ") && roff.contains(".SH SYNOPSIS"), "roff page for {command:?}");

        let text = render(&roff, &format!("man {command:?}"));
        let name = page_name(command);
        let title = name.trim_end_matches(".1");
        assert!(text.contains(&format!("{title}(1)")), "page header {title}(1):\n{text}");
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"] {
            assert!(text.lines().any(|l| l == section), "{name} has {section}:\n{text}");
        }
        for flag in help_flags(command) {
            assert!(text.contains(&flag), "{name} documents {flag}:\n{text}");
        }
        for sub in help_subcommands(command) {
            let reference = format!("{title}-{sub}(1)");
            assert!(text.contains(&reference), "{name} lists {reference}:\n{text}");
        }
    }
    let live = render(&run_ok(&["man", "live"]), "man live");
    assert!(live.contains("--interface <IF>") && live.contains("[default: 127.0.0.1:9799]"), "{live}");

    let out = vendorwatch(&["man", "no-such-command"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("no manual page for \"no-such-command\""), "{}", out.stderr);
}

fn page_name(command: &[&str]) -> String {
    if command.is_empty() { "vendorwatch.1".into() } else { format!("vendorwatch-{}.1", command.join("-")) }
}
