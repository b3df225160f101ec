"""The booking page's pay button end to end in headless Chromium (Debian's chromium, driven by Playwright),
against the app served over real HTTP with the session's fake WeChat Pay: a traveler books in the chat,
opens the card's link in WeChat's browser (WeixinJSBridge stubbed), pays, and the page shows the QR code
once WeChat Pay's notification has reached the app. Also a cancelled payment, and a browser outside WeChat."""
from __future__ import annotations

import re
import threading
from typing import Any, Iterator

import pytest
from werkzeug.serving import make_server

from tests.app.test_booking_chat import book_nanta
from tests.support import APPID, Payer, WeChat

JSAPI = "/v3/global/transactions/jsapi"

# WeChat's in-app browser, stubbed: the documented WeixinJSBridge.invoke("getBrandWCPayRequest", params, cb),
# answering with window.__payResult ("ok" unless a test says otherwise).
BRIDGE = """
window.__payCalls = [];
window.WeixinJSBridge = {invoke: function (name, params, cb) {
  window.__payCalls.push([name, params]);
  setTimeout(function () { cb({err_msg: window.__payResult || "get_brand_wcpay_request:ok"}); }, 10);
}};
"""
# Every page of the tab reports what the Content-Security-Policy refused.
CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def live(app_factory) -> Iterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    """(app, its base URL): served over real HTTP on 127.0.0.1, its public_base_url that server, so the card's
    link and the notify_url WeChat Pay is given point at it."""
    served: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: served["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    served["app"] = app = app_factory(public_base_url=base)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield app, base
    server.shutdown()
    server.server_close()


class Tab:
    """A browser tab that records console errors, page errors, CSP violations and the status polls."""

    def __init__(self, browser: Any, *, in_wechat: bool, pay_result: str = "") -> None:
        self.context = browser.new_context(viewport={"width": 390, "height": 800})
        self.page = page = self.context.new_page()
        page.set_default_timeout(8_000)
        self.errors: list[str] = []
        self.polls: list[str] = []
        # The browser asks for /favicon.ico by itself (WeChat's webview does not): not the page's request.
        self.context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        page.on("console", lambda m: self.errors.append(f"{m.text} ({m.location.get('url')})")
                if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("request", lambda r: self.polls.append(r.url) if "/status?" in r.url else None)
        page.add_init_script(CSP_WATCH)
        if in_wechat:
            page.add_init_script(BRIDGE + (f"window.__payResult = {pay_result!r};" if pay_result else ""))

    def clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.page.evaluate("window.__csp") == []

    def message(self, text: str) -> None:
        self.page.locator("#pay-msg", has_text=text).wait_for()


@pytest.fixture
def tabs(browser) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    opened: list[Tab] = []

    def open_tab(**kwargs: Any) -> Tab:
        opened.append(Tab(browser, **kwargs))
        return opened[-1]

    yield open_tab
    for tab in opened:
        tab.context.close()


def booked(live: tuple[Any, str], openid: str) -> tuple[str, str]:
    app, base = live
    ref, url = book_nanta(app, openid)
    assert url.startswith(f"{base}/p/bookings/{ref}?") and "t=" in url, url  # the card's link: the live page
    return ref, url


def test_paying_in_wechat_shows_the_qr_code_once_the_notification_is_in(live, tabs, fake_pay, openid):
    app, _ = live
    ref, url = booked(live, openid)
    tab = tabs(in_wechat=True)
    page = tab.page
    page.clock.install()  # timers run as usual, until the test skips ahead
    page.goto(url)
    assert "待付款" in page.inner_text(".status")
    body = page.inner_text("body")
    assert "₩110,000" in body and "名额为你保留到 10:15（首尔时间）" in body  # confirmed 10:00, held 15 min
    assert page.is_visible("#pay") and page.is_enabled("#pay")
    assert page.locator("svg").count() == 0  # no QR code before the money is in

    with page.expect_response(lambda r: "/status?" in r.url) as first_poll:
        page.click("#pay")
    assert first_poll.value.json() == {"status": "pending_payment"}
    tab.message("付款完成，正在确认…")  # the bridge said ok: the page waits for the server
    ((name, params),) = page.evaluate("window.__payCalls")
    assert name == "getBrandWCPayRequest"
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert all(isinstance(v, str) for v in params.values()), params
    assert params["appId"] == APPID and params["timeStamp"].isdigit() and params["nonceStr"]
    assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
    assert re.fullmatch(r"[A-Za-z0-9+/]{342}==", params["paySign"]), params["paySign"]  # RSA-2048, Base64
    orders = [c for c in fake_pay.calls_to(JSAPI) if c.accepted]
    assert len(orders) == 1 and orders[0].body["out_trade_no"] == ref

    notice = fake_pay.pay(ref)  # the traveler pays; WeChat Pay tells the app at its public URL
    assert notice.url == f"{live[1]}/pay/notify"
    assert fake_pay.deliver(notice) == 204
    Payer(app, fake_pay).run_jobs()  # the follow-ups a worker would send (real Redis); the embedded ran them

    page.clock.fast_forward(1_500)  # no need to wait for the next poll: it sees it paid and reloads the page
    page.wait_for_selector("svg")
    assert "已付款" in page.inner_text(".status")
    assert page.locator("#pay").count() == 0
    assert page.evaluate("window.__payCalls") == []  # a fresh page: nothing invoked after the reload

    # The traveler cancels in the chat, in time: the refund goes to WeChat Pay, which pays it back.
    assert "退款 ₩110,000" in WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    assert [r.status_code for r in Payer(app, fake_pay).finish_refunds(ref)] == [204]
    page.reload()
    assert "已退款" in page.inner_text(".status")
    assert page.locator("svg").count() == 0 and "5678" not in page.inner_text("body")  # nothing left to show
    tab.clean()


def test_a_cancelled_payment_leaves_the_button_to_try_again(live, tabs, fake_pay, openid):
    ref, url = booked(live, openid)
    tab = tabs(in_wechat=True, pay_result="get_brand_wcpay_request:cancel")
    page = tab.page
    page.goto(url)
    page.click("#pay")
    tab.message("已取消付款，可以再点一次")
    assert page.is_enabled("#pay")
    assert len(page.evaluate("window.__payCalls")) == 1 and tab.polls == []
    assert fake_pay.orders[ref]["trade_state"] == "NOTPAY"  # nothing paid

    page.evaluate("window.__payResult = 'get_brand_wcpay_request:ok'")  # the second tap pays with the same order
    page.click("#pay")
    tab.message("付款完成，正在确认…")
    first, second = page.evaluate("window.__payCalls")
    assert first[1]["package"] == second[1]["package"]
    assert len([c for c in fake_pay.calls_to(JSAPI) if c.accepted]) == 1  # the prepay_id is reused
    assert fake_pay.orders[ref]["trade_state"] == "NOTPAY"
    assert "待付款" in page.inner_text(".status")
    tab.clean()


def test_outside_wechat_the_page_says_to_open_it_in_wechat(live, tabs, fake_pay, openid):
    _, url = booked(live, openid)
    tab = tabs(in_wechat=False)
    page = tab.page
    page.goto(url)
    assert page.evaluate("typeof window.WeixinJSBridge") == "undefined"
    assert not page.get_attribute("#pay", "data-simulated")  # a real merchant account, not the dev fake
    page.click("#pay")
    tab.message("请在微信里打开这个页面付款")
    assert page.is_enabled("#pay") and tab.polls == []
    assert "待付款" in page.inner_text(".status")

    # In WeChat the bridge can come after a tap (WeixinJSBridgeReady): however often the traveler tapped,
    # the payment sheet opens once, with the button off meanwhile.
    page.click("#pay")
    tab.message("请在微信里打开这个页面付款")
    page.evaluate(BRIDGE + "document.dispatchEvent(new Event('WeixinJSBridgeReady'));")
    tab.message("付款完成，正在确认…")
    assert len(page.evaluate("window.__payCalls")) == 1 and page.is_disabled("#pay")
    assert len([c for c in fake_pay.calls_to(JSAPI) if c.accepted]) == 1  # one order for all the taps
    tab.clean()
