//! The `vendorwatch` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use vendorwatch::app;
use vendorwatch::pipeline::DEFAULT_MAX_FLOWS;

/// Attributes network traffic to vendors (Apple, Huawei, TikTok, ...) per
/// network segment, from capture files or a mirror port.
#[derive(Parser)]
#[command(name = "vendorwatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replays pcap/pcapng files: per-segment vendor report, flow log, metrics.
    Replay(ReplayArgs),
    /// Works with signature files.
    Signatures {
        #[command(subcommand)]
        command: SignaturesCommand,
    },
    /// Says which vendor, service, signature entry and source match a name or address, and why.
    Explain {
        /// A host name (e.g. 1-courier.push.apple.com) or an IPv4/IPv6 address.
        query: String,
        /// Signature directory instead of the embedded set.
        #[arg(long, value_name = "DIR")]
        signatures: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SignaturesCommand {
    /// Validates signature files: reports file, line and problem.
    Check {
        /// Directory of <vendor>.toml files (default: the embedded set).
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
}

#[derive(Parser)]
struct ReplayArgs {
    /// Capture files (pcap or pcapng), read in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Segments and policy (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Signature directory instead of the embedded set.
    #[arg(long, value_name = "DIR")]
    signatures: Option<PathBuf>,
    /// Most flows tracked at once; under pressure the stalest are ended first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FLOWS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_flows: u64,
    /// Writes one JSON line per flow.
    #[arg(long, value_name = "FILE")]
    flows_out: Option<PathBuf>,
    /// Writes the final counters in the Prometheus text format.
    #[arg(long, value_name = "FILE")]
    metrics_out: Option<PathBuf>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Exits non-zero when a capture is truncated or malformed.
    #[arg(long)]
    strict: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vendorwatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay(args) => {
            let rules = app::rules::load_rules(args.signatures.as_deref(), args.config.as_deref())?;
            let opts = app::replay::ReplayOptions {
                files: args.files,
                max_flows: usize::try_from(args.max_flows).unwrap_or(usize::MAX),
                flows_out: args.flows_out,
                metrics_out: args.metrics_out,
                json: matches!(args.format, OutputFormat::Json),
                strict: args.strict,
            };
            let outcome = app::replay::run(rules, &opts, &mut std::io::stdout().lock(), &mut std::io::stderr().lock())?;
            let failed = outcome.unreadable_files > 0 || (opts.strict && outcome.truncated_files > 0);
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Signatures { command: SignaturesCommand::Check { dir } } => {
            let (report, ok) = app::signatures::check(dir.as_deref());
            if ok { print!("{report}") } else { eprint!("{report}") }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Explain { query, signatures } => {
            let set = app::rules::load_signatures(signatures.as_deref())?;
            let (text, matched) = app::explain::explain(&set, &query);
            print!("{text}");
            Ok(if matched { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
