/* The booking page's pay button: place the order (POST .../pay), hand the signed arguments to WeChat's
   getBrandWCPayRequest, then poll the booking's status until the notification has confirmed it. The
   callback's "ok" is only a hint: the page waits for the server. ES5, for older WeChat webviews. */
(function () {
  var btn = document.getElementById("pay");
  if (!btn) { return; }
  var base = btn.getAttribute("data-base"), query = btn.getAttribute("data-query");
  var msg = document.getElementById("pay-msg");

  function say(key) { msg.textContent = btn.getAttribute("data-" + key) || ""; }

  function request(method, url, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      done(xhr.status, body);
    };
    xhr.onerror = function () { done(0, null); };
    xhr.send();
  }

  function poll(left) {
    request("GET", base + "/status?" + query, function (status, body) {
      if (body && body.status && body.status !== "pending_payment") { say("paid"); window.location.reload(); return; }
      if (left > 0) { setTimeout(function () { poll(left - 1); }, 1500); } else { say("checking"); }
    });
  }

  function invoke(params) {
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
      var result = (res && res.err_msg) || "";
      if (result === "get_brand_wcpay_request:ok") { say("checking"); poll(40); return; }
      say(result === "get_brand_wcpay_request:cancel" ? "cancelled" : "failed");
      btn.disabled = false;
    });
  }

  /* Tapped before WeChat's bridge was ready: the latest arguments, invoked once when it is (one listener, so
     several taps do not open several payment sheets), with the button off meanwhile. */
  var pending = null;
  document.addEventListener("WeixinJSBridgeReady", function () {
    var params = pending;
    pending = null;
    if (params) { btn.disabled = true; invoke(params); }
  }, false);

  function whenBridge(params) {
    if (window.WeixinJSBridge) { invoke(params); return; }
    if (btn.getAttribute("data-simulated")) {  /* development: the embedded fake takes the payment */
      request("POST", "/dev/pay/" + base.split("/").pop() + "?" + query, function (status) {
        if (status === 200) { say("checking"); poll(40); } else { say("failed"); btn.disabled = false; }
      });
      return;
    }
    pending = params;
    say("open-in-wechat");
    btn.disabled = false;
  }

  btn.addEventListener("click", function () {
    btn.disabled = true;
    say("placing");
    request("POST", base + "/pay?" + query, function (status, body) {
      if (status === 200 && body && body.params) { whenBridge(body.params); return; }
      if (status === 409) { window.location.reload(); return; }  /* paid or expired meanwhile */
      say("failed");
      btn.disabled = false;
    });
  });
}());
