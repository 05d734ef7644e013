use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    api::telemetry::init_logs();
    match api::cli::run(api::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
