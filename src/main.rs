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
    about = "Packet-level simulator of MikroTik PCC load balancing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and report per-WAN load, connection outcomes and charts.
    Run {
        /// The scenario file (RON).
        scenario: PathBuf,
        /// Folder for the results (default: output/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed for every random stream (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulate this long instead of the scenario's duration, e.g. 10m.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<u64>,
        /// A RouterOS command to run against the router when the simulation ends, e.g.
        /// '/ip firewall mangle print stats' (may be given several times).
        #[arg(long)]
        exec: Vec<String>,
        /// A file of RouterOS commands to run when the simulation ends.
        #[arg(long)]
        exec_file: Option<PathBuf>,
    },
    /// Check a RouterOS script's syntax without running it (exit 2 with the location if wrong).
    Parse {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Find the classic PCC mistakes in a configuration (exit 1 if there are warnings or errors).
    Check {
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run a RouterOS script and print the configuration it builds, as /export would.
    Export {
        file: PathBuf,
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
enum DialectArg {
    V6,
    V7,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            out,
            seed,
            duration,
            exec,
            exec_file,
        } => run(scenario, out, seed, duration, exec, exec_file),
        Command::Parse { file, format } => parse(file, format),
        Command::Check { config, format } => check(config, format),
        Command::Trace {
            scenario,
            connection,
            config,
            in_interface,
            at,
            format,
        } => trace(scenario, connection, config, in_interface, at, format),
        Command::Export {
            file,
            dialect,
            verbose,
        } => export(file, dialect, verbose),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(e);
            ExitCode::from(2)
        }
    }
}

fn run(
    scenario: PathBuf,
    out: Option<PathBuf>,
    seed: Option<u64>,
    duration: Option<u64>,
    exec: Vec<String>,
    exec_file: Option<PathBuf>,
) -> Result<(), pccsim::Error> {
    // Read the commands first: a missing file should fail before a long run, not after.
    let mut commands: Vec<(String, String)> = exec
        .into_iter()
        .map(|c| ("--exec".to_string(), c))
        .collect();
    if let Some(f) = &exec_file {
        commands.push(read(f)?);
    }
    let loaded = pccsim::scenario::load(&scenario)?;
    let seed = seed.unwrap_or(loaded.scenario.seed);
    let duration = duration.unwrap_or(loaded.duration());
    let out = out.unwrap_or_else(|| PathBuf::from("output").join(&loaded.scenario.name));
    let bar = progress_bar(duration);
    let run = pccsim::engine::simulate(&loaded, seed, duration, |now, _| {
        bar.set_position(now / SEC)
    });
    bar.finish_and_clear();
    print!("{}", pccsim::report::table(&run.summary));
    pccsim::report::write_all(&out, &run.summary, &run.metrics)?;
    println!("results in {}/", out.display());
    for (file, text) in &commands {
        for line in pccsim::inspect::exec(&run.router, file, text)? {
            println!("{line}");
        }
    }
    Ok(())
}

fn read(file: &PathBuf) -> Result<(String, String), pccsim::Error> {
    let text = std::fs::read_to_string(file).map_err(|e| pccsim::Error::io(file, e))?;
    Ok((file.display().to_string(), text))
}

fn parse(file: PathBuf, format: Format) -> Result<(), pccsim::Error> {
    let (name, text) = read(&file)?;
    let script = pccsim::routeros::parse::parse(&name, &text)?;
    let outline = pccsim::routeros::outline(&text, &script);
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
    format: Format,
) -> Result<(), pccsim::Error> {
    let tuple = pccsim::trace::parse_packet(&connection).map_err(pccsim::Error::Invalid)?;
    let (mut router, now) = match (scenario, config) {
        (Some(path), _) => {
            let loaded = pccsim::scenario::load(&path)?;
            let at = at.unwrap_or(0);
            let run = pccsim::engine::simulate(&loaded, loaded.scenario.seed, at, |_, _| {});
            (run.router, at)
        }
        (None, Some(path)) => {
            let (name, text) = read(&path)?;
            (
                pccsim::Router::new(pccsim::routeros::load(&name, &text)?),
                0,
            )
        }
        (None, None) => {
            return Err(pccsim::Error::Invalid(
                "trace needs a scenario or --config".into(),
            ));
        }
    };
    let in_iface = match in_interface {
        Some(name) => router.config.iface(&name).ok_or_else(|| {
            pccsim::Error::Invalid(format!("no interface `{name}` in the configuration"))
        })?,
        None => pccsim::trace::arrival_interface(&router.config, tuple.src).ok_or_else(|| {
            pccsim::Error::Invalid(format!(
                "no interface has {} in its subnet: say --in-interface",
                tuple.src
            ))
        })?,
    };
    let walks = pccsim::trace::trace(&mut router, now, in_iface, tuple);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&walks).expect("trace serialises")
        ),
        Format::Text => print!("{}", pccsim::trace::to_text(&walks)),
    }
    Ok(())
}

fn check(file: PathBuf, format: Format) -> Result<(), pccsim::Error> {
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
            check_text(&name, &text, &report, std::io::stdout().is_terminal())
        ),
    }
    // Findings are the answer, not a failure: exit 1 tells scripts there is something to fix.
    let code = report.exit_code();
    if code != 0 {
        std::process::exit(code.into());
    }
    Ok(())
}

fn check_text(name: &str, text: &str, report: &pccsim::check::Report, colour: bool) -> String {
    use pccsim::check::Severity;
    use std::fmt::Write as _;
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: RouterOS {}, {} errors, {} warnings, {} notes",
        report.dialect.name(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    let lines: Vec<&str> = text.lines().collect();
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        for f in report.findings.iter().filter(|f| f.severity == severity) {
            let (label, code) = match severity {
                Severity::Error => ("error", "31"),
                Severity::Warning => ("warning", "33"),
                Severity::Info => ("note", "34"),
            };
            let label = if colour {
                format!("\x1b[1;{code}m{label}\x1b[0m")
            } else {
                label.to_string()
            };
            let _ = writeln!(out, "\n{label}[{}] {name}:{}", f.id, f.line);
            if let Some(src) = lines.get((f.line as usize).wrapping_sub(1)) {
                let _ = writeln!(out, "{:>5} | {}", f.line, src.trim_end());
            }
            let _ = writeln!(out, "      = {}", f.message);
        }
    }
    if !report.shares.is_empty() {
        let shares: Vec<String> = report
            .shares
            .iter()
            .map(|(m, s)| format!("{m} {:.1}%", s * 100.0))
            .collect();
        let _ = writeln!(
            out,
            "\nshares of new LAN connections: {}",
            shares.join(", ")
        );
    }
    out
}

fn export(file: PathBuf, dialect: Option<DialectArg>, verbose: bool) -> Result<(), pccsim::Error> {
    let (name, text) = read(&file)?;
    let loaded = pccsim::routeros::run(&name, &text)?;
    let dialect = match dialect {
        Some(DialectArg::V6) => pccsim::config::Dialect::V6,
        Some(DialectArg::V7) => pccsim::config::Dialect::V7,
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
    if std::io::stdout().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} simulated {pos}/{len} s [{bar:40}] {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

fn report_error(e: pccsim::Error) {
    let report = miette::Report::new(e);
    if std::io::stderr().is_terminal() {
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
