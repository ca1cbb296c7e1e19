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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            out,
            seed,
            duration,
        } => run(scenario, out, seed, duration),
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
) -> Result<(), pccsim::Error> {
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
