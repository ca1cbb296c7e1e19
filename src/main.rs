//! The `pccsim` command line: parses arguments, hands work to the library, shows progress, and
//! turns every error into a message with its location and exit status 2.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pccsim::units::{SEC, parse_duration};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pccsim",
    version,
    about = "Packet-level simulator of MikroTik PCC load balancing",
    after_help = EXAMPLES
)]
struct Cli {
    /// Print only errors and what --format json asks for: no progress, tables or notes.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  pccsim run scenarios/weighted_5_2.ron            simulate a scenario; results in output/weighted_5_2/
  pccsim run router.rsc                            run a configuration in the world `init` builds for it
  pccsim compare scenarios/small_business.ron --classifier src-address,both-addresses --seeds 10
  pccsim check router.rsc                          the classic PCC mistakes, by line
  ssh router /export | pccsim check -              the same, from standard input
  pccsim trace scenarios/dual_wan.ron --connection 'tcp 10.0.0.100:40000 -> 93.184.216.34:443'
  pccsim completions bash > ~/.local/share/bash-completion/completions/pccsim";

const RUN_EXAMPLES: &str = "Examples:
  pccsim run scenarios/failover_gateway.ron --pcap ISP1,LAN --connections
  pccsim run scenarios/dual_wan.ron --duration 5m --seed 3 --out /tmp/try
  pccsim run scenarios/dual_wan.ron --format json --quiet | jq '.wans[].connection_share'";

const COMPARE_EXAMPLES: &str = "Examples:
  pccsim compare scenarios/weighted_5_2.ron --classifier src-address,both-addresses,nth --seeds 10
  pccsim compare scenarios/weighted_5_2.ron --weights 1:1,5:2 --baseline 1:1
  pccsim compare scenarios/dual_wan.ron --fasttrack on,off --format json | jq '.variants[0].label'";

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and report per-WAN load, connection outcomes and charts.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Run variants of the scenario's configuration on the same traffic and seeds and rank them.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Run the grid of variants a sweep file declares (as compare does).
    Sweep {
        /// The sweep file (RON): scenario, seeds, duration, and the variants' classifiers,
        /// weights, fasttrack, pcq and configs.
        file: PathBuf,
        /// Run only this slice of the jobs, I/N, and write shard-I-of-N.json for merge;
        /// `auto` takes the slice from a Slurm job array or a Kubernetes Indexed Job.
        #[arg(long, value_parser = pccsim::compare::ShardSpec::parse)]
        shard: Option<pccsim::compare::ShardSpec>,
        /// Folder for the results (default: output/<scenario name>-sweep).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Text for people, JSON (comparison.json) for tools.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Combine the shard files of a sharded compare or sweep into one comparison.
    Merge {
        /// The shard-I-of-N.json files, all N of them.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Folder for the comparison.
        #[arg(long)]
        out: PathBuf,
        /// Text for people, JSON (comparison.json) for tools.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check a RouterOS script's syntax without running it (exit 2 with the location if wrong).
    Parse {
        /// The RouterOS script (.rsc).
        file: PathBuf,
        /// Text for people, JSON for tools.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The router's packages: `all` (the extra ones too: wireless, caps-man, container, …)
        /// or `main` (the routeros package alone, as a CHR installs it).
        #[arg(long, value_enum, default_value_t = PackageSet::All)]
        packages: PackageSet,
    },
    /// Find the classic PCC mistakes in a configuration (exit 1 if there are warnings or errors).
    Check {
        /// The RouterOS configuration (.rsc), e.g. from /export.
        config: PathBuf,
        /// Text for people, JSON for tools.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Write a scenario for a router configuration: its WANs, gateways, LAN and hosts as the
    /// configuration says them, and what it does not say marked as assumed.
    Init {
        /// The RouterOS configuration (.rsc), e.g. from /export.
        config: PathBuf,
        /// Write the scenario here (never over an existing file); to standard output without.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the walk of a connection's first packet and its reply through the router.
    Trace {
        /// A scenario: trace inside it (with --at, after that much simulated time).
        scenario: Option<PathBuf>,
        /// The connection, e.g. "tcp 10.0.0.23:51514 -> 93.184.216.34:443".
        #[arg(long, alias = "packet")]
        connection: String,
        /// A configuration to trace without a scenario.
        #[arg(long, conflicts_with = "scenario")]
        config: Option<PathBuf>,
        /// The interface the packet arrives on (default: the one whose subnet holds its source).
        #[arg(long)]
        in_interface: Option<String>,
        /// Trace after this much simulated time of the scenario, e.g. 30m.
        #[arg(long, value_parser = parse_duration, requires = "scenario")]
        at: Option<u64>,
        /// Text for people, JSON for tools, HTML for a class (the lesson's step view).
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
    },
    /// Write lesson.html: the router as a diagram of its chains, one connection stepped
    /// through it with the arrow keys, the first connections in the classifiers' buckets, and
    /// what-ifs (other classifiers, FastTrack on, the reply-marking mistake) to switch between.
    Lesson {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Use this RouterOS configuration instead of the one the scenario names.
        #[arg(long)]
        config: Option<PathBuf>,
        /// How many of the run's first connections the bucket grid shows.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=5000))]
        connections: u32,
        /// Simulate this long (default: 2 minutes, or the scenario's duration if shorter; with
        /// --timeline, the scenario's duration).
        #[arg(long, value_parser = positive_duration)]
        duration: Option<u64>,
        /// Replay the run's timeline under a scrubber: WAN states, check-gateway's probes,
        /// routes going inactive, connections breaking, the failback.
        #[arg(long)]
        timeline: bool,
        /// Folder for lesson.html (default: output/<scenario name>-lesson).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a shell's completion script for pccsim: bash, zsh, fish, elvish or powershell.
    Completions { shell: clap_complete::Shell },
    /// Run pccsim's TCP alone: N flows through one drop-tail bottleneck (utilisation, goodput
    /// per flow, fairness), the experiment TCP is judged on and compared with ns-3.
    Bottleneck(BottleneckArgs),
    /// Run a RouterOS script and print the configuration it builds, as /export would.
    Export {
        /// The RouterOS script (.rsc).
        file: PathBuf,
        /// The syntax to print in (default: the script's own).
        #[arg(long, value_enum)]
        dialect: Option<DialectArg>,
        /// Also list settings left at their defaults.
        #[arg(long)]
        verbose: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TraceFormat {
    Text,
    Json,
    Html,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DialectArg {
    /// RouterOS 6: routing marks on routes.
    V6,
    /// RouterOS 7: /routing table, slash paths.
    V7,
}

#[derive(clap::Args)]
struct BottleneckArgs {
    /// Flows sharing the bottleneck.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    flows: u32,
    /// The bottleneck's rate, e.g. 50Mbit.
    #[arg(long, value_parser = parse_rate, default_value = "50Mbit")]
    rate: u64,
    /// Round trip of the path without queueing, e.g. 50ms.
    #[arg(long, value_parser = positive_duration, default_value = "50ms")]
    rtt: u64,
    /// Drop-tail buffer, in bandwidth-delay products (e.g. 0.25, 1, 4).
    #[arg(long, default_value_t = 1.0)]
    buffer_bdp: f64,
    /// Share of packets the bottleneck loses at random, e.g. 1%.
    #[arg(long, value_parser = parse_share, default_value = "0")]
    loss: f64,
    /// Congestion control of every flow.
    #[arg(long, value_enum, default_value_t = CongestionArg::Cubic)]
    congestion: CongestionArg,
    /// Closed loop: each flow downloads files of this size one after another, e.g. 16MiB.
    #[arg(long, value_parser = parse_file_size)]
    file: Option<u32>,
    /// Simulated time, e.g. 60s.
    #[arg(long, value_parser = positive_duration, default_value = "60s")]
    duration: u64,
    /// Time left out of the figures at the start, e.g. 10s.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    warmup: u64,
    /// Seed of the flows' start times and the random loss.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Text for people, JSON for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum CongestionArg {
    Cubic,
    Newreno,
}

fn parse_rate(text: &str) -> Result<u64, String> {
    match pccsim::units::parse_bandwidth(text)? {
        0 => Err("the rate must be more than 0".into()),
        r => Ok(r),
    }
}

fn parse_file_size(text: &str) -> Result<u32, String> {
    let bytes = pccsim::units::parse_size(text)?;
    match u32::try_from(bytes) {
        Ok(b) if b > 0 => Ok(b),
        _ => Err(format!("`{text}` must be between 1 byte and 4 GiB")),
    }
}

fn positive_duration(text: &str) -> Result<u64, String> {
    if text.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "`{text}` needs a unit: {text}s, {text}m or {text}h"
        ));
    }
    match parse_duration(text)? {
        0 => Err("the run must last longer than 0".into()),
        t if t > 366 * 86_400 * SEC => Err("a run lasts at most 366 days".into()),
        t => Ok(t),
    }
}

/// `5%` or `0.05`.
fn parse_share(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{t}` is not a share (write e.g. 5% or 0.05)"))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("`{t}` must be between 0% and 100%"));
    }
    Ok(value)
}

/// Where what pccsim says goes. The answer goes to standard output: the table for people, or
/// with `--format json` one JSON document and nothing else (notes then go to standard error,
/// and so do errors, besides their JSON on standard output). `--quiet` keeps only errors and
/// the JSON asked for.
#[derive(Clone, Copy, Default)]
struct Say {
    json: bool,
    quiet: bool,
}

static SAY: std::sync::OnceLock<Say> = std::sync::OnceLock::new();

fn say() -> Say {
    SAY.get().copied().unwrap_or_default()
}

impl Say {
    /// A note beside the answer ("results in …").
    fn note(self, text: &str) {
        if self.quiet {
        } else if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// The answer for people (a table); `print!`-like: `text` ends its own lines.
    fn table(self, text: &str) {
        if !self.json && !self.quiet {
            print!("{text}");
        }
    }

    /// The answer for tools.
    fn json(self, text: &str) {
        if self.json {
            println!("{}", text.trim_end());
        }
    }
}

impl Command {
    fn format(&self) -> Format {
        match self {
            Command::Run(a) => a.format,
            Command::Compare(a) => a.format,
            Command::Sweep { format, .. }
            | Command::Merge { format, .. }
            | Command::Parse { format, .. }
            | Command::Check { format, .. } => *format,
            Command::Trace { format, .. } if *format == TraceFormat::Json => Format::Json,
            Command::Bottleneck(a) => a.format,
            _ => Format::Text,
        }
    }
}

fn main() -> ExitCode {
    quiet_when_the_reader_leaves();
    pccsim::report::clean_up_on_signal();
    let cli = Cli::parse();
    let json = cli.command.format() == Format::Json;
    let _ = SAY.set(Say {
        json,
        quiet: cli.quiet,
    });
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args).map(|()| 0),
        Command::Sweep {
            file, shard, out, ..
        } => sweep(file, shard, out).map(|()| 0),
        Command::Merge { shards, out, .. } => merge(shards, out).map(|()| 0),
        Command::Lesson {
            scenario,
            config,
            connections,
            duration,
            timeline,
            out,
        } => lesson(scenario, config, connections, duration, timeline, out).map(|()| 0),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "pccsim", &mut std::io::stdout());
            Ok(0)
        }
        Command::Parse {
            file,
            format,
            packages,
        } => parse(file, format, packages).map(|()| 0),
        Command::Check { config, format } => check(config, format),
        Command::Init { config, out } => init(config, out),
        Command::Trace {
            scenario,
            connection,
            config,
            in_interface,
            at,
            format,
        } => trace(scenario, connection, config, in_interface, at, format).map(|()| 0),
        Command::Export {
            file,
            dialect,
            verbose,
        } => export(file, dialect, verbose).map(|()| 0),
        Command::Bottleneck(args) => bottleneck(args).map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if json {
                println!("{}", e.to_json());
            }
            report_error(e);
            ExitCode::from(2)
        }
    }
}

#[derive(clap::Args)]
struct CompareArgs {
    /// The scenario file (RON).
    scenario: PathBuf,
    /// Classifiers to compare, comma-separated: any PCC field choice (src-address,
    /// both-addresses, both-addresses-and-ports, …), nth, nth-unguarded, ecmp.
    #[arg(long, value_delimiter = ',')]
    classifier: Vec<String>,
    /// Weights to compare, comma-separated, one per WAN the PCC rules mark: 1:1,2:1,5:2.
    #[arg(long, value_delimiter = ',')]
    weights: Vec<String>,
    /// FastTrack on, off, or both (on,off).
    #[arg(long, value_delimiter = ',', value_parser = parse_on_off)]
    fasttrack: Vec<bool>,
    /// PCQ per host on (added where the configuration queues no one), every queue off, or both
    /// (on,off).
    #[arg(long, value_delimiter = ',', value_parser = parse_on_off)]
    pcq: Vec<bool>,
    /// Whole alternative configurations to compare, comma-separated .rsc files.
    #[arg(long, value_delimiter = ',')]
    config: Vec<PathBuf>,
    /// The variant the others are compared with, seed by seed, by its label (default: the
    /// configuration as given).
    #[arg(long)]
    baseline: Option<String>,
    /// How many seeds, from the scenario's own upwards; every variant runs on each.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    seeds: u32,
    /// Simulate this long instead of the scenario's duration, e.g. 10m.
    #[arg(long, value_parser = positive_duration)]
    duration: Option<u64>,
    /// Run only this slice of the jobs, I/N, and write shard-I-of-N.json for merge;
    /// `auto` takes the slice from a Slurm job array or a Kubernetes Indexed Job.
    #[arg(long, value_parser = pccsim::compare::ShardSpec::parse)]
    shard: Option<pccsim::compare::ShardSpec>,
    /// Folder for the results (default: output/<scenario name>-compare).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Text for people, JSON (comparison.json) for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" | "yes" => Ok(true),
        "off" | "no" => Ok(false),
        _ => Err(format!("`{text}` is not on or off")),
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file (RON), or a router configuration (.rsc) to run in the world `pccsim
    /// init` builds for it.
    scenario: PathBuf,
    /// Folder for the results (default: output/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Text for people, JSON (summary.json) for tools.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Use this RouterOS configuration instead of the one the scenario names.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed for every random stream (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Simulate this long instead of the scenario's duration, e.g. 10m.
    #[arg(long, value_parser = positive_duration)]
    duration: Option<u64>,
    /// A RouterOS command to run against the router when the simulation ends, e.g.
    /// '/ip firewall mangle print stats' (may be given several times).
    #[arg(long)]
    exec: Vec<String>,
    /// A file of RouterOS commands to run when the simulation ends.
    #[arg(long)]
    exec_file: Option<PathBuf>,
    /// Also write connections.csv: one row per connection (start, end, WAN, bytes,
    /// outcome, cause), streamed as connections end.
    #[arg(long)]
    connections: bool,
    /// Capture the packets of these router ports as pcap files for Wireshark: `LAN` or
    /// a WAN's interface name, port or ISP, comma-separated (e.g. ISP1,LAN).
    #[arg(long, value_delimiter = ',')]
    pcap: Vec<String>,
    /// Exit with status 1 when more than this share of the connections that ended broke.
    #[arg(long, value_parser = parse_share, default_value = "5%")]
    max_broken: f64,
}

/// Exit status of a run that worked but whose network did not: too many connections broke.
const EXIT_BROKEN: u8 = 1;

fn run(args: RunArgs) -> Result<u8, pccsim::Error> {
    use pccsim::report::{self, ResultsFolder};
    // Everything that can be wrong is found before the first event: a long run must not end
    // in an error that was there from the start.
    let mut commands: Vec<(String, String)> = args
        .exec
        .iter()
        .map(|c| ("--exec".to_string(), c.clone()))
        .collect();
    if let Some(f) = &args.exec_file {
        commands.push(read(f)?);
    }
    let loaded = if args.scenario.extension().is_some_and(|e| e == "rsc") {
        world_of_config(&args.scenario)?
    } else {
        pccsim::world::builder::load_with_config(&args.scenario, args.config.as_deref())?
    };
    let seed = args.seed.unwrap_or(loaded.scenario.seed);
    let duration = args.duration.unwrap_or(loaded.duration());
    // Read-only commands, so a dry run against the router before the simulation finds their
    // mistakes now rather than after it.
    let before = pccsim::Router::new(loaded.config.clone());
    for (file, text) in &commands {
        pccsim::inspect::exec(&before, file, text)?;
    }
    let taps = args
        .pcap
        .iter()
        .map(|name| pccsim::world::builder::tap_point(&loaded, name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(pccsim::Error::Invalid)?;
    let mut files: Vec<String> = report::FILES.iter().map(|f| f.to_string()).collect();
    if args.connections {
        files.push(report::CONNECTIONS_FILE.into());
    }
    if !loaded.changes.is_empty() {
        files.extend(report::FAILOVER_FILES.iter().map(|f| f.to_string()));
    }
    files.extend(taps.iter().map(|(_, file)| file.clone()));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output").join(&loaded.scenario.name));
    warn(&loaded.preflight(duration)?);
    let findings = pccsim::check::check(&loaded.config);
    if !findings.findings.is_empty() {
        say().note(findings.brief(&loaded.config_file).trim_end());
    }
    let options = report::RunOptions {
        seed,
        duration,
        taps: &taps,
        connections: args.connections,
        max_broken: args.max_broken,
    };
    let bar = progress_bar(duration);
    let (summary, router) = ResultsFolder::write(&out, report::ResultsKind::Run, &files, |f| {
        report::record_run(f, &loaded, &options, &mut |now| bar.set_position(now / SEC))
    })?;
    bar.finish_and_clear();
    say().table(&report::table(&summary, args.max_broken));
    say().json(&summary.to_json());
    say().note(&format!("results in {}/", out.display()));
    for (file, text) in &commands {
        for line in pccsim::inspect::exec(&router, file, text)? {
            // Asked for, so shown even when quiet; beside JSON, on standard error.
            if say().json {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    }
    Ok(if summary.too_many_broken(args.max_broken) {
        EXIT_BROKEN
    } else {
        0
    })
}

fn bottleneck(args: BottleneckArgs) -> Result<(), pccsim::Error> {
    use pccsim::report::bottleneck as report;
    use pccsim::world::bottleneck::{self, Bottleneck};
    use pccsim::world::tcp::Congestion;
    if args.warmup >= args.duration {
        return Err(pccsim::Error::Invalid(
            "--warmup must be shorter than --duration".into(),
        ));
    }
    if !(args.buffer_bdp > 0.0 && args.buffer_bdp <= 1000.0) {
        return Err(pccsim::Error::Invalid(
            "--buffer-bdp must be more than 0 (and at most 1000)".into(),
        ));
    }
    let x = Bottleneck {
        flows: args.flows,
        rate_bps: args.rate,
        rtt: args.rtt,
        buffer: (Bottleneck::bdp(args.rate, args.rtt) as f64 * args.buffer_bdp).max(1.0) as u32,
        loss: args.loss,
        congestion: match args.congestion {
            CongestionArg::Cubic => Congestion::Cubic,
            CongestionArg::Newreno => Congestion::NewReno,
        },
        file: args.file,
        duration: args.duration,
        warmup: args.warmup,
        seed: args.seed,
    };
    let m = bottleneck::run(&x);
    match args.format {
        Format::Json => println!("{}", report::json(&x, args.buffer_bdp, &m)),
        Format::Text => print!("{}", report::text(&x, &m)),
    }
    Ok(())
}

fn compare(args: CompareArgs) -> Result<(), pccsim::Error> {
    let loaded = pccsim::world::builder::load_with_config(&args.scenario, None)?;
    let grid = pccsim::compare::Grid {
        classifiers: args.classifier,
        weights: args.weights,
        fasttrack: args.fasttrack,
        pcq: args.pcq,
        configs: args.config,
        baseline: args.baseline,
    };
    let duration = args.duration.unwrap_or(loaded.duration());
    let seeds = (0..args.seeds as u64)
        .map(|i| loaded.scenario.seed + i)
        .collect();
    warn(&loaded.preflight(duration)?);
    let plan = pccsim::compare::Plan::new(&loaded, &args.scenario, &grid, seeds, duration)?;
    let stem = format!("{}-compare", loaded.scenario.name);
    run_plan(&plan, args.shard, args.out, &stem)
}

fn sweep(
    file: PathBuf,
    shard: Option<pccsim::compare::ShardSpec>,
    out: Option<PathBuf>,
) -> Result<(), pccsim::Error> {
    let sweep = pccsim::compare::Sweep::load(&file)?;
    let loaded = pccsim::world::builder::load_with_config(&sweep.scenario, None)?;
    let duration = match sweep.duration.0 {
        0 => loaded.duration(),
        d => d,
    };
    let seeds = (0..sweep.seeds as u64)
        .map(|i| loaded.scenario.seed + i)
        .collect();
    warn(&loaded.preflight(duration)?);
    let plan =
        pccsim::compare::Plan::new(&loaded, &sweep.scenario, &sweep.variants, seeds, duration)?;
    let stem = format!("{}-sweep", loaded.scenario.name);
    run_plan(&plan, shard, out, &stem)
}

/// Runs a plan's jobs (or one shard of them) with a progress bar, and writes the comparison
/// (or the shard's file) into `out` (default `output/STEM`, or `output/STEM-shard-I-of-N`). A
/// shard whose file is already there, complete and of this plan, is not run again.
fn run_plan(
    plan: &pccsim::compare::Plan,
    shard: Option<pccsim::compare::ShardSpec>,
    out: Option<PathBuf>,
    stem: &str,
) -> Result<(), pccsim::Error> {
    use pccsim::compare::{Shard, ShardFile};
    use pccsim::report::{ResultsFolder, ResultsKind};
    let shard = match shard {
        None => Shard::ALL,
        Some(spec) => spec
            .resolve(|name| std::env::var(name).ok())
            .map_err(pccsim::Error::Invalid)?,
    };
    let out = out.unwrap_or_else(|| match shard {
        Shard::ALL => PathBuf::from("output").join(stem),
        s => PathBuf::from("output").join(format!("{stem}-shard-{}-of-{}", s.index, s.count)),
    });
    let out = out.as_path();
    let files: Vec<String> = if shard == Shard::ALL {
        pccsim::report::compare::COMPARE_FILES
            .iter()
            .map(|f| f.to_string())
            .collect()
    } else {
        let done = std::fs::read_to_string(out.join(shard.file_name()))
            .ok()
            .and_then(|text| serde_json::from_str::<ShardFile>(&text).ok())
            .is_some_and(|f| f.completes(plan, shard));
        if done {
            say().note(&format!(
                "shard {}/{} of this plan is already complete in {}/: not run again",
                shard.index,
                shard.count,
                out.display()
            ));
            return Ok(());
        }
        vec![shard.file_name()]
    };
    let kind = if shard == Shard::ALL {
        ResultsKind::Compare
    } else {
        ResultsKind::Shard
    };
    ResultsFolder::write(out, kind, &files, |folder| {
        let bar = progress_bar(plan.jobs_in(shard) as u64 * plan.duration);
        let results = plan.run(shard, &|secs| bar.inc(secs));
        bar.finish_and_clear();
        if shard == Shard::ALL {
            let comparison = pccsim::compare::aggregate(&plan.meta(), &results)
                .made_by(vec![plan.provenance.clone()]);
            show_comparison(&comparison);
            pccsim::report::compare::write_files(folder.staging(), &comparison, &plan.sources)
        } else {
            let file = ShardFile::new(plan, shard, results);
            let json = serde_json::to_string(&file).expect("shard serialises");
            let path = folder.staging().join(&files[0]);
            std::fs::write(&path, json).map_err(|e| pccsim::Error::io(out.join(&files[0]), e))
        }
    })?;
    say().note(&format!("results in {}/", out.display()));
    Ok(())
}

fn lesson(
    scenario: PathBuf,
    config: Option<PathBuf>,
    connections: u32,
    duration: Option<u64>,
    timeline: bool,
    out: Option<PathBuf>,
) -> Result<(), pccsim::Error> {
    use pccsim::report::{ResultsFolder, ResultsKind, lesson};
    let loaded = pccsim::world::builder::load_with_config(&scenario, config.as_deref())?;
    // The grid and the walks need the run's first connections; the replay, all of it.
    let whole = loaded.duration();
    let duration = duration.unwrap_or(if timeline {
        whole
    } else {
        whole.min(120 * SEC)
    });
    warn(&loaded.preflight(duration)?);
    if !timeline && !loaded.beyond(duration).is_empty() {
        warn(&["note: --timeline runs the whole scenario and replays it".into()]);
    }
    let out = out.unwrap_or_else(|| {
        PathBuf::from("output").join(format!("{}-lesson", loaded.scenario.name))
    });
    let files = vec![lesson::LESSON_FILE.to_string()];
    let bar = progress_bar(duration);
    ResultsFolder::write(&out, ResultsKind::Lesson, &files, |f| {
        let prepared =
            pccsim::lesson::prepare(&loaded, duration, connections as usize, &|done, total| {
                bar.set_length(total / SEC);
                bar.set_position(done / SEC);
            });
        lesson::write_lesson(f.staging(), &prepared, timeline)
    })?;
    bar.finish_and_clear();
    say().note(&format!(
        "lesson in {}/{}",
        out.display(),
        lesson::LESSON_FILE
    ));
    Ok(())
}

/// Warnings, on standard error unless --quiet.
fn warn(lines: &[String]) {
    if !say().quiet {
        for l in lines {
            eprintln!("{l}");
        }
    }
}

/// The comparison's table, or its JSON.
fn show_comparison(c: &pccsim::compare::Comparison) {
    say().table(&pccsim::report::compare::table(c));
    say().json(&serde_json::to_string_pretty(c).expect("comparison serialises"));
}

fn merge(shards: Vec<PathBuf>, out: PathBuf) -> Result<(), pccsim::Error> {
    use pccsim::report::{ResultsFolder, ResultsKind};
    let mut files = Vec::new();
    for path in &shards {
        let text = pccsim::input::read(path, pccsim::input::Wanted::Text)?;
        let file: pccsim::compare::ShardFile = serde_json::from_str(&text).map_err(|e| {
            pccsim::Error::Invalid(format!("{}: not a shard file: {e}", path.display()))
        })?;
        files.push((path.display().to_string(), file));
    }
    let merged = pccsim::compare::merge(files).map_err(pccsim::Error::Invalid)?;
    let files: Vec<String> = pccsim::report::compare::COMPARE_FILES
        .iter()
        .map(|f| f.to_string())
        .collect();
    ResultsFolder::write(&out, ResultsKind::Compare, &files, |folder| {
        let comparison =
            pccsim::compare::aggregate(&merged.meta, &merged.results).made_by(merged.provenance);
        show_comparison(&comparison);
        pccsim::report::compare::write_files(folder.staging(), &comparison, &merged.meta.sources)
    })?;
    say().note(&format!("results in {}/", out.display()));
    Ok(())
}

fn read(file: &std::path::Path) -> Result<(String, String), pccsim::Error> {
    let text = pccsim::input::read(file, pccsim::input::Wanted::Config)?;
    Ok((pccsim::input::name(file), text))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PackageSet {
    All,
    Main,
}

fn parse(file: PathBuf, format: Format, packages: PackageSet) -> Result<(), pccsim::Error> {
    let (name, text) = read(&file)?;
    let packages = match packages {
        PackageSet::All => pccsim::routeros::Packages::All,
        PackageSet::Main => pccsim::routeros::Packages::Main,
    };
    let outline = match pccsim::routeros::outline(&name, &text, packages) {
        Ok(outline) => outline,
        Err(errors) => {
            let n = errors.len();
            let capped = if n == pccsim::routeros::parse::MAX_ERRORS {
                " (the first ones; there may be more)"
            } else {
                ""
            };
            let s = if n == 1 { "" } else { "s" };
            return Err(pccsim::Error::Several {
                summary: format!("{name}: {n} error{s}{capped}"),
                errors,
            });
        }
    };
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&outline).expect("outline serialises")
        ),
        Format::Text => {
            println!(
                "{name}: {} commands, RouterOS {} syntax",
                outline.commands,
                outline.dialect.name()
            );
            for n in &outline.not_simulated {
                let lines: Vec<String> = n.lines.iter().map(u32::to_string).collect();
                println!("not simulated: {} (line {})", n.menu, lines.join(", "));
            }
        }
    }
    Ok(())
}

fn trace(
    scenario: Option<PathBuf>,
    connection: String,
    config: Option<PathBuf>,
    in_interface: Option<String>,
    at: Option<u64>,
    format: TraceFormat,
) -> Result<(), pccsim::Error> {
    let tuple = pccsim::trace::parse_packet(&connection).map_err(pccsim::Error::Invalid)?;
    let (mut router, now, config_file) = match (scenario, config) {
        (Some(path), _) => {
            let loaded = pccsim::world::builder::load(&path)?;
            let at = at.unwrap_or(0);
            if at > loaded.duration() {
                return Err(pccsim::Error::Invalid(format!(
                    "--at {}: the scenario lasts only {}",
                    pccsim::units::format_duration(at),
                    pccsim::units::format_duration(loaded.duration())
                )));
            }
            let run = pccsim::world::engine::simulate(&loaded, loaded.scenario.seed, at, |_, _| {});
            (run.router, at, loaded.config_file)
        }
        (None, Some(path)) => {
            let (name, text) = read(&path)?;
            let router = pccsim::Router::new(pccsim::routeros::load(&name, &text)?);
            (router, 0, name)
        }
        (None, None) => {
            return Err(pccsim::Error::Invalid(
                "trace needs a scenario or --config".into(),
            ));
        }
    };
    // A packet from one of the router's own addresses is one it sends (a check-gateway or
    // netwatch ping, say): it starts in the output chain.
    let own = router
        .config
        .addresses
        .iter()
        .any(|a| a.address == tuple.src);
    let in_iface = match in_interface {
        Some(name) => Some(router.config.iface(&name).ok_or_else(|| {
            pccsim::Error::Invalid(format!("no interface `{name}` in the configuration"))
        })?),
        None if own => None,
        None => Some(
            pccsim::trace::arrival_interface(&router.config, tuple.src).ok_or_else(|| {
                pccsim::Error::Invalid(format!(
                    "no interface has {} in its subnet: say --in-interface",
                    tuple.src
                ))
            })?,
        ),
    };
    let walks = pccsim::trace::trace(&mut router, now, in_iface, tuple);
    match format {
        TraceFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&walks).expect("trace serialises")
        ),
        TraceFormat::Text => print!("{}", pccsim::trace::to_text(&walks)),
        TraceFormat::Html => print!(
            "{}",
            pccsim::report::lesson::trace_page(&router.config, &config_file, &walks)
        ),
    }
    Ok(())
}

/// The world `pccsim init` guesses for a configuration, built, with where it came from said.
fn world_of_config(file: &std::path::Path) -> Result<pccsim::scenario::Loaded, pccsim::Error> {
    let (name, text) = read(file)?;
    let (loaded, guess) = pccsim::init::world(&name, &text)?;
    println!(
        "world: built from {name} by pccsim init (`pccsim init {name}` writes it to edit); assumed:"
    );
    for a in &guess.assumptions {
        println!("  - {a}");
    }
    Ok(loaded)
}

fn init(file: PathBuf, out: Option<PathBuf>) -> Result<u8, pccsim::Error> {
    let (name, text) = read(&file)?;
    let config = pccsim::routeros::load(&name, &text)?;
    // The scenario names the configuration from where the scenario is.
    let beside = out.as_ref().is_some_and(|o| {
        let dir = |p: &std::path::Path| {
            let d = p.parent().filter(|d| !d.as_os_str().is_empty());
            std::fs::canonicalize(d.unwrap_or(std::path::Path::new("."))).ok()
        };
        dir(o).is_some() && dir(o) == dir(&file)
    });
    let named = match (&out, beside) {
        (None, _) => name.clone(),
        (Some(_), true) => file
            .file_name()
            .map_or(name.clone(), |n| n.to_string_lossy().into()),
        (Some(_), false) => {
            std::fs::canonicalize(&file).map_or(name.clone(), |p| p.display().to_string())
        }
    };
    let guess = pccsim::init::init(&config, &pccsim::init::scenario_name(&name), &named)
        .map_err(pccsim::Error::Invalid)?;
    match out {
        None => print!("{}", guess.ron),
        Some(path) => {
            use std::io::Write as _;
            // Never over a file that is there: it is the user's.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| pccsim::Error::io(&path, e))?;
            f.write_all(guess.ron.as_bytes())
                .map_err(|e| pccsim::Error::io(&path, e))?;
            eprintln!(
                "wrote {}; run it with: pccsim run {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(0)
}

fn check(file: PathBuf, format: Format) -> Result<u8, pccsim::Error> {
    let (name, text) = read(&file)?;
    let config = pccsim::routeros::load(&name, &text)?;
    let report = pccsim::check::check(&config);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        ),
        Format::Text => print!(
            "{}",
            report.text(
                &name,
                &text,
                wants_colour(
                    std::io::stdout().is_terminal(),
                    std::env::var_os("NO_COLOR")
                )
            )
        ),
    }
    // Findings are the answer, not a failure: exit 1 tells scripts there is something to fix.
    Ok(report.exit_code())
}

fn export(file: PathBuf, dialect: Option<DialectArg>, verbose: bool) -> Result<(), pccsim::Error> {
    let (name, text) = read(&file)?;
    let loaded = pccsim::routeros::run(&name, &text)?;
    let dialect = match dialect {
        Some(DialectArg::V6) => pccsim::router::config::Dialect::V6,
        Some(DialectArg::V7) => pccsim::router::config::Dialect::V7,
        None => loaded.config.dialect,
    };
    for line in &loaded.output {
        eprintln!("{line}");
    }
    print!(
        "{}",
        pccsim::routeros::export::export(&loaded.config, dialect, verbose)
    );
    for n in &loaded.config.not_simulated {
        let lines: Vec<String> = n.lines.iter().map(u32::to_string).collect();
        println!("# not simulated: {} (line {})", n.menu, lines.join(", "));
    }
    Ok(())
}

/// Simulated seconds against the scenario's duration; silent when stdout is not a terminal.
fn progress_bar(duration: u64) -> ProgressBar {
    let bar = ProgressBar::new(duration / SEC);
    if std::io::stderr().is_terminal() && !say().quiet {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} simulated {pos}/{len} s [{bar:40}] {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        // Redraw (elapsed time, spinner) even while a simulated second takes long.
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything (no-color.org).
fn wants_colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn report_error(e: pccsim::Error) {
    let report = miette::Report::new(e);
    if wants_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    ) {
        eprintln!("{report:?}");
    } else {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
        let mut text = String::new();
        match handler.render_report(&mut text, report.as_ref()) {
            Ok(()) => eprint!("{text}"),
            Err(_) => eprintln!("error: {report}"),
        }
    }
}

/// A reader that goes away (`pccsim check big.rsc | head`) ends pccsim as it ends `cat`, by
/// SIGPIPE, rather than with a panic about a broken pipe: Rust's runtime ignores the signal,
/// so every later write to standard output would fail.
fn quiet_when_the_reader_leaves() {
    #[cfg(unix)]
    // SAFETY: restores the default action of one signal, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_colour_off_even_on_a_terminal() {
        assert!(wants_colour(true, None));
        assert!(!wants_colour(true, Some("1".into())));
        assert!(wants_colour(true, Some("".into())));
        assert!(!wants_colour(false, None));
        let report = pccsim::check::Report {
            dialect: pccsim::router::config::Dialect::V6,
            findings: vec![pccsim::check::Finding {
                id: "x",
                severity: pccsim::check::Severity::Warning,
                line: 1,
                message: "m".into(),
            }],
            shares: Default::default(),
            pinned: Vec::new(),
        };
        assert!(report.text("f", "a", true).contains('\x1b'));
        assert!(!report.text("f", "a", false).contains('\x1b'));
    }
}
