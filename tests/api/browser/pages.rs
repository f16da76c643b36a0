//! The public page, and the headers every page carries.

use super::*;

#[tokio::test]
async fn the_public_page_shows_the_months_figures_without_a_login_in_both_languages() {
    let app = TestApp::spawn().await;
    app.register_at("AMB-1", proto::UnitKind::Ambulance, places::RSSA)
        .await;
    for _ in 0..5 {
        let mut call = medical_call(places::BALAI_KOTA);
        call.caller_name = "Sri Wahyuningsih".to_owned();
        app.create(call).await;
    }
    let mut fire = medical_call(places::DAMKAR);
    fire.category = proto::IncidentCategory::Fire.into();
    app.create(fire).await;
    // Published as of the end of yesterday: the calls were yesterday's.
    let month = app.incidents_as_if_yesterday().await;

    let browser = Browser::open(1000, 600).await;
    browser
        .client
        .goto(&format!("{}/publik", base(&app)))
        .await
        .expect("public page");
    browser
        .client
        .execute(
            &format!(
                "const input = document.querySelector('[data-testid=public-month]'); \
                 input.value = '{month}'; input.dispatchEvent(new Event('change'));"
            ),
            vec![],
        )
        .await
        .expect("pick yesterday's month");
    browser
        .until(
            "two category rows",
            "return document.querySelectorAll('[data-testid=public-row]').length === 2",
        )
        .await;
    let table = browser.text("[data-testid=public-table]").await;
    assert!(
        table.contains("Medis") && table.contains("Kebakaran"),
        "{table}"
    );
    assert!(table.contains("Kejadian"), "Indonesian by default: {table}");
    // One fire call: too few to publish, shown as "< 5".
    let fire_row = browser
        .text("[data-testid=public-row][data-category=FIRE]")
        .await;
    assert!(fire_row.contains("< 5"), "{fire_row}");
    let page = browser.text("body").await;
    assert!(!page.contains("Sri") && !page.contains("Tugu"), "{page}");
    browser.screenshot("public.png").await;
    browser.click("[data-testid=lang-toggle]").await;
    browser
        .until(
            "English",
            "return document.querySelector('[data-testid=public-table]')?.textContent.includes('Medical')",
        )
        .await;
    // Another month: nothing yet.
    browser
        .client
        .execute(
            "const input = document.querySelector('[data-testid=public-month]'); \
             input.value = '2020-01'; input.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await
        .expect("pick a month");
    browser.find("[data-testid=public-empty]").await;
    browser.close().await;
}

/// A raw HTTP/1.1 request to the server (what a browser would send).
async fn http(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_other_sites_cannot_call_the_api() {
    let app = TestApp::spawn().await;
    for path in [
        "/",
        "/crew",
        "/publik",
        "/assets/console.js",
        "/assets/public.js",
    ] {
        let answer = http(
            &app,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                app.address
            ),
        )
        .await
        .to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 200"), "{path}: {answer:.200}");
        assert!(answer.contains("content-security-policy: default-src 'self'; script-src 'self';"));
        assert!(answer.contains("connect-src 'self'"));
        assert!(!answer.contains("unsafe-inline"));
        assert!(answer.contains("x-content-type-options: nosniff"));
        assert!(answer.contains("referrer-policy: no-referrer"));
    }
    // A gRPC-Web call from another site's page is refused (grpc-status 7),
    // the same call from the page's own origin is answered.
    let call = |origin: &str| {
        format!(
            "POST /ngalam112.v1.AuthService/Login HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\
             Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: 5\r\n\
             Connection: close\r\n\r\n\0\0\0\0\0",
            host = app.address
        )
    };
    let refused = http(&app, &call("http://evil.example")).await;
    assert!(refused.contains("grpc-status: 7"), "{refused}");
    let own = http(&app, &call(&format!("http://{}", app.address))).await;
    // An empty Login is a bad request (3), not a refusal.
    assert!(
        own.contains("grpc-status:3") || own.contains("grpc-status: 3"),
        "{own}"
    );
}
