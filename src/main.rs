use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = kedian::cli::Cli::parse();
    kedian::telemetry::init();
    match kedian::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "kedian stopped");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
