//! `trainer --executor mpi` under `mpirun -np N`: rank 0 is the parameter server and writes
//! the report, ranks 1…N−1 are workers (Alg. A.1). An error on any rank names the rank and ends
//! the whole job (`MPI_Abort` with exit code 2), so no rank is left waiting for another.

use super::args::TrainArgs;
use std::process::ExitCode;
use trainer::mpi::Session;
use trainer::{Config, Job};

pub fn train_cmd(a: &TrainArgs, config: Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let session = Session::init(&config)?;
    super::signals::patient();
    let (rank, size) = (session.rank(), session.size());
    match run_rank(a, config, &session) {
        Ok(code) => Ok(code),
        Err(e) => {
            say(format!(
                "trainer: rank {rank} of {size}: error: {}",
                super::args::flagify(&e.to_string())
            ));
            if size > 1 {
                session.abort(2)
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// One line to stderr in one write: `eprintln!` writes each piece of its format separately,
/// and mpirun interleaves the ranks' writes, splitting a line such as "rank 2 of 3".
fn say(mut line: String) {
    use std::io::Write as _;
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

fn run_rank(
    a: &TrainArgs,
    mut config: Config,
    session: &Session,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let size = session.size();
    let workers = size.saturating_sub(1);
    match a.config.threads {
        Some(t) if t != workers => {
            return Err(format!(
                "--threads {t} under `mpirun -np {size}`: the workers are the ranks after the \
                 server, {workers} here (leave --threads out)"
            )
            .into())
        }
        _ => config.threads = workers.max(1),
    }
    config.validate()?;
    if session.is_server() {
        trainer::report::probe_writable(&a.json)
            .map_err(|e| format!("--json {}: {e}", a.json.display()))?;
        if let Some(d) = &a.plot {
            trainer::report::probe_dir(d).map_err(|e| format!("--plot {}: {e}", d.display()))?;
        }
        if !a.quiet {
            say(format!(
                "trainer: MPI ({}): rank 0 is the parameter server, ranks 1..{} are workers",
                Session::library(),
                size - 1
            ));
        }
    }
    let (train, test, dir, net) = super::load(a, &config)?;
    let theta0 = net.init_params(config.init(), config.seed);
    if session.is_server() {
        return super::run_report(a, &config, &net, &train, &test, &dir, theta0);
    }
    let job = Job {
        config: &config,
        net: &net,
        train: &train,
        test: &test,
        source: dir.display().to_string(),
        command: std::env::args().collect(),
        interrupt: &super::signals::INTERRUPT,
    };
    let end = trainer::mpi::work(session, &job, &theta0)?;
    if !a.quiet {
        say(format!(
            "trainer: rank {}: {} gradients in {:.2} s",
            end.rank, end.sent, end.seconds
        ));
    }
    Ok(ExitCode::SUCCESS)
}
