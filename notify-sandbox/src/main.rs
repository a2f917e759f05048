//! `notify-sandbox`: the SMS, Zalo ZNS and portal sandbox as a process of its own, on
//! `NOTIFY_SANDBOX_BIND` (default `127.0.0.1:8091`). Its credentials are printed at start.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let bind = std::env::var("NOTIFY_SANDBOX_BIND").unwrap_or_else(|_| "127.0.0.1:8091".to_owned());
    let config = notify_sandbox::NotifyConfig {
        bind: bind.parse()?,
        ..Default::default()
    };
    let sandbox = notify_sandbox::NotifySandbox::start(config).await?;
    let c = sandbox.config();
    println!("notify sandbox listening on {}", sandbox.base_url());
    println!("  DOSSIER__SMS__URL={}", sandbox.base_url());
    println!("  DOSSIER__SMS__API_KEY={}", c.sms_api_key);
    println!("  DOSSIER__SMS__SECRET_KEY={}", c.sms_secret_key);
    println!("  DOSSIER__SMS__BRANDNAME={}", c.sms_brandname);
    println!("  DOSSIER__ZALO__BASE_URL={}", sandbox.base_url());
    println!("  DOSSIER__ZALO__OAUTH_URL={}", sandbox.base_url());
    println!("  DOSSIER__ZALO__APP_ID={}", c.zalo_app_id);
    println!("  DOSSIER__ZALO__SECRET_KEY={}", c.zalo_secret_key);
    println!("  DOSSIER__ZALO__REFRESH_TOKEN={}", c.zalo_refresh_token);
    println!("  DOSSIER__ZALO__TEMPLATE_ID={}", c.zalo_template_id);
    println!("  DOSSIER__PORTAL__BASE_URL={}", sandbox.base_url());
    println!("  DOSSIER__PORTAL__USERNAME={}", c.portal_username);
    println!("  DOSSIER__PORTAL__PASSWORD={}", c.portal_password);
    println!("  DOSSIER__PORTAL__DSTCODE={}", c.portal_dstcode);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
