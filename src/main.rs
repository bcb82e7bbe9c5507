use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = kedian::cli::Cli::parse();
    // The log format is a setting; a broken configuration is reported by the command itself.
    let format = kedian::config::Settings::load().map(|s| s.log_format).unwrap_or_default();
    kedian::telemetry::init(kedian::telemetry::LogFormat::from_setting(&format));
    match kedian::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "kedian stopped");
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
