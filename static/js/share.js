// Inside WeChat: the card a shared link shows (title, description, picture, from the page's Open
// Graph tags) through the official account's JS-SDK, which the shop signs for this page's URL.
// Elsewhere, or when the shop has no official account configured, it does nothing.
(function () {
  if (!/MicroMessenger/i.test(navigator.userAgent) || !window.fetch) return;
  var me = document.currentScript;
  var sdk = me && me.getAttribute("data-sdk");
  if (!sdk) return;
  var og = function (name) {
    var m = document.querySelector('meta[property="og:' + name + '"]');
    return m ? m.getAttribute("content") : "";
  };
  var url = location.href.split("#")[0];
  var card = { title: og("title") || document.title, desc: og("description"), link: url, imgUrl: og("image") };
  fetch("/wechat/share-config?url=" + encodeURIComponent(url), { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (config) {
      if (!config) return;
      var script = document.createElement("script");
      script.src = sdk;
      script.onload = function () {
        var wx = window.wx;
        if (!wx) return;
        wx.config({
          appId: config.appId, timestamp: config.timestamp, nonceStr: config.nonceStr, signature: config.signature,
          jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"]
        });
        wx.ready(function () {
          wx.updateAppMessageShareData(card);
          wx.updateTimelineShareData({ title: card.title, link: card.link, imgUrl: card.imgUrl });
        });
      };
      document.head.appendChild(script);
    })
    .catch(function () {});
})();
