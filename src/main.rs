//! The `vendorwatch` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

mod app;
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
    /// Captures from interfaces (a mirror or SPAN port): metrics and API over HTTP.
    Live(LiveArgs),
    /// Works with signature files.
    Signatures {
        #[command(subcommand)]
        command: SignaturesCommand,
    },
    /// Says which vendor, service, signature entry and source match a name or address, and why.
    Explain {
        /// A host name (e.g. 1-courier.push.apple.com), an IPv4/IPv6 address, a MAC (what its OUI
        /// says), or a User-Agent or server banner (which device token it carries).
        query: String,
        /// Signature directory instead of the embedded set.
        #[arg(long, value_name = "DIR")]
        signatures: Option<PathBuf>,
    },
    /// Prints a shell completion script (e.g. `vendorwatch completions bash > /etc/bash_completion.d/vendorwatch`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Prints a manual page, roff (e.g. `vendorwatch man live | man -l -`), or writes them all.
    Man {
        /// The command whose page to print, e.g. `live` or `signatures check` (default: vendorwatch(1)).
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
        /// Writes vendorwatch.1 and a page per subcommand (vendorwatch-live.1, ...) into DIR instead.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
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
    /// Capture files (pcap or pcapng; gzip, zstd or xz compressed or not, told by content), read in
    /// order; a directory is read recursively in name order; - is standard input.
    #[arg(required = true, value_name = "INPUT")]
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
    /// Writes one JSON line per device seen on a segment: its MAC, addresses, name, vendor, kind,
    /// model, OS, the evidence for each, and its traffic by vendor and service.
    #[arg(long, value_name = "FILE")]
    devices_out: Option<PathBuf>,
    /// Writes the final counters in the Prometheus text format.
    #[arg(long, value_name = "FILE")]
    metrics_out: Option<PathBuf>,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Exits 1 when any capture file has an error (cut short, a malformed or oversized record, a
    /// record skipped for its timestamp), not only when one cannot be read. Frames that do not
    /// decode are counted and skipped either way.
    #[arg(long)]
    strict: bool,
    /// A record stamped further than this ahead of the capture clock or behind it is counted and
    /// timed at the clock, so one absurd stamp cannot derail flow timing.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = app::live::parse_duration)]
    max_time_jump: std::time::Duration,
    /// Writes one JSON line per segment host: the vendors and services it reached, with flows,
    /// bytes, first and last seen, banned or not.
    #[arg(long, value_name = "FILE")]
    hosts_out: Option<PathBuf>,
    /// Writes every counter and gauge at each --step of capture time, stamped, as OpenMetrics for
    /// `promtool tsdb create-blocks-from openmetrics FILE DIR`.
    #[arg(long, value_name = "FILE")]
    openmetrics_out: Option<PathBuf>,
    /// Capture time between the samples of --openmetrics-out.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = app::live::parse_duration)]
    step: std::time::Duration,
    /// A label on every sample of --openmetrics-out, e.g. capture=monday, to keep a replay apart
    /// from live series (repeatable).
    #[arg(long, value_name = "NAME=VALUE", value_parser = vendorwatch::export::openmetrics::parse_label)]
    label: Vec<(String, String)>,
    /// `vendorwatch_hosts` in --openmetrics-out counts hosts seen within this window before each
    /// step, as the live sensor does.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = app::live::parse_duration)]
    host_window: std::time::Duration,
    /// Threads to spread the flows over (by host, so that DNS answers meet the flows they
    /// explain); the counts are the same for any number. Default: one less than the cores
    /// available (reading and decompressing take one), at least 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    workers: Option<u64>,
}

#[derive(Parser)]
struct LiveArgs {
    /// Interface to capture from (repeatable). Needs root or `CAP_NET_RAW`.
    #[arg(long = "interface", short = 'i', required = true, value_name = "IF")]
    interfaces: Vec<String>,
    /// Segments and policy (TOML); reloaded on SIGHUP and POST /-/reload.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Signature directory instead of the embedded set; reloaded with the config.
    #[arg(long, value_name = "DIR")]
    signatures: Option<PathBuf>,
    /// HTTP address for the page at /, /metrics, /healthz, /api/* and POST /-/reload.
    #[arg(long, value_name = "ADDR:PORT", default_value = app::live::DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
    /// Capture filter (tcpdump syntax), applied in the kernel.
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Capture threads per interface, sharing it through `PACKET_FANOUT` (flow hash).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    workers: u64,
    /// Most flows tracked at once over all workers; under pressure the stalest are ended first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FLOWS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_flows: u64,
    /// `vendorwatch_hosts` counts hosts seen with a vendor within this window (e.g. 15m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = app::live::parse_duration)]
    host_window: std::time::Duration,
    /// Caps every flow idle timeout (default: TCP 300s, opening 30s, closed 10s, UDP 120s, other 60s).
    #[arg(long, value_name = "DURATION", value_parser = app::live::parse_duration)]
    idle_timeout: Option<std::time::Duration>,
    /// How often workers move counters into the exported totals.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = app::live::parse_duration)]
    flush_interval: std::time::Duration,
    /// Attributed flow records kept for /api/flows.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    recent_flows: usize,
    /// Writes one JSON line per ended flow (as replay does) to FILE, appending; reopened on SIGHUP
    /// (for logrotate). - is standard output (journald under systemd).
    #[arg(long, value_name = "FILE")]
    flows_out: Option<PathBuf>,
    /// Started as root, becomes USER (keeping only `CAP_NET_RAW`) once the interfaces and the
    /// listening socket are open.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// TLS (cert, key, client CA for mutual TLS) and basic auth users (bcrypt), in the YAML format
    /// of Prometheus exporters (`node_exporter`'s --web.config.file); re-read when it changes.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Serves POST /-/reload (SIGHUP reloads either way).
    #[arg(long = "web.enable-lifecycle")]
    web_enable_lifecycle: bool,
    /// Answers 404 to /api/* (the page then has no data); /metrics and /healthz stay.
    #[arg(long = "web.disable-api")]
    web_disable_api: bool,
    /// Host names (or name:port) requests may use besides IP addresses and, on loopback,
    /// localhost; * allows any (repeatable, or comma-separated).
    #[arg(long = "web.allowed-hosts", value_name = "HOST", value_delimiter = ',')]
    web_allowed_hosts: Vec<String>,
    /// Open HTTP connections at most (lowered to fit the descriptor limit); past it a new
    /// connection closes the one idle the longest.
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = app::web::DEFAULT_MAX_CONNECTIONS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    web_max_connections: u64,
    /// Time a client gets to send a request's headers (and a TLS handshake, and the next request
    /// on a kept-alive connection).
    #[arg(long = "web.read-header-timeout", value_name = "DURATION", default_value = app::web::DEFAULT_READ_HEADER_TIMEOUT, value_parser = app::live::parse_duration)]
    web_read_header_timeout: std::time::Duration,
    /// A connection that moves no byte either way for this long is closed.
    #[arg(long = "web.idle-timeout", value_name = "DURATION", default_value = app::web::DEFAULT_IDLE_TIMEOUT, value_parser = app::live::parse_duration)]
    web_idle_timeout: std::time::Duration,
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
                devices_out: args.devices_out,
                metrics_out: args.metrics_out,
                json: matches!(args.format, OutputFormat::Json),
                strict: args.strict,
                max_time_jump: args.max_time_jump,
                hosts_out: args.hosts_out,
                openmetrics_out: args.openmetrics_out,
                step: args.step.max(std::time::Duration::from_millis(1)),
                labels: args.label,
                host_window: args.host_window,
                workers: args
                    .workers
                    .map_or_else(app::replay::available_workers, |n| usize::try_from(n).unwrap_or(usize::MAX)),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            // stderr unlocked: the progress line is written from its own thread.
            let outcome = app::replay::run(rules, &opts, &mut std::io::stdout().lock(), &mut std::io::stderr())?;
            Ok(if outcome.failed(opts.strict) { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Live(args) => {
            let rules = app::rules::load_rules(args.signatures.as_deref(), args.config.as_deref())?;
            // Before capture starts, so a bad file is told at once.
            if let Some(file) = &args.web_config_file {
                app::web::check_config(file)?;
            }
            let opts = app::live::LiveOptions {
                interfaces: args.interfaces,
                config: args.config,
                signatures: args.signatures,
                listen: args.listen,
                bpf: args.bpf,
                workers: usize::try_from(args.workers).unwrap_or(1),
                max_flows: usize::try_from(args.max_flows).unwrap_or(usize::MAX),
                host_window: args.host_window,
                idle_timeout: args.idle_timeout,
                flush_interval: args.flush_interval.max(std::time::Duration::from_millis(10)),
                recent_flows: args.recent_flows,
                flows_out: args.flows_out,
                user: args.user,
                web: app::web::WebOptions {
                    config_file: args.web_config_file,
                    enable_lifecycle: args.web_enable_lifecycle,
                    disable_api: args.web_disable_api,
                    allowed_hosts: args.web_allowed_hosts,
                    max_connections: usize::try_from(args.web_max_connections).unwrap_or(usize::MAX),
                    read_header_timeout: args.web_read_header_timeout.max(std::time::Duration::from_millis(100)),
                    idle_timeout: args.web_idle_timeout.max(std::time::Duration::from_millis(100)),
                },
            };
            app::live::run(rules, &opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Signatures { command: SignaturesCommand::Check { dir } } => {
            let (report, ok) = app::signatures::check(dir.as_deref());
            if ok {
                print!("{report}");
            } else {
                eprint!("{report}");
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Explain { query, signatures } => {
            let set = app::rules::load_signatures(signatures.as_deref())?;
            let (text, matched) = vendorwatch::classify::explain::explain(&set, &query);
            print!("{text}");
            Ok(if matched { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "vendorwatch", &mut std::io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { command, dir } => {
            man(&command, dir.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The manual pages come from the clap definitions, so they cannot drift
/// from `--help`; as with git, each subcommand has its own page.
fn man(path: &[String], dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let page = |cmd: &clap::Command| {
        clap_mangen::Man::new(cmd.clone()).source(concat!("vendorwatch ", env!("CARGO_PKG_VERSION")))
    };
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let mut todo = vec![&cli];
        while let Some(cmd) = todo.pop() {
            page(cmd).generate_to(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            todo.extend(cmd.get_subcommands());
        }
        return Ok(());
    }
    let mut cmd = &cli;
    for name in path {
        cmd = cmd.find_subcommand(name).ok_or_else(|| {
            let known: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
            anyhow::anyhow!("no manual page for {:?} (commands: {})", path.join(" "), known.join(", "))
        })?;
    }
    page(cmd).render(&mut std::io::stdout().lock())?;
    Ok(())
}
