// Calls WeChat's in-browser cashier with the server-signed parameters on the page.
(function () {
  var el = document.querySelector("[data-wxpay]");
  if (!el) return;
  var d = el.dataset;
  var params = { appId: d.appId, timeStamp: d.timeStamp, nonceStr: d.nonceStr, "package": d.package, signType: d.signType, paySign: d.paySign };
  function pay() {
    if (typeof WeixinJSBridge === "undefined") {
      document.addEventListener("WeixinJSBridgeReady", pay, { once: true });
      return;
    }
    WeixinJSBridge.invoke("getBrandWCPayRequest", params, function () {
      // Whatever the bridge says, the server decides: go and wait for its confirmation.
      window.location.href = d.returnUrl;
    });
  }
  el.addEventListener("click", pay);
  pay();
})();
