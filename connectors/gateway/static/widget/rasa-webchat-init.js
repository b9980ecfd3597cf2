// Mounts the unmodified npm rasa-webchat@1.0.1 bundle against this gateway's socket.io endpoint.
(function () {
  "use strict";
  window.WebChat.default({
    socketUrl: window.location.origin,
    socketPath: "/socket.io/",
    customData: { language: "zh" },
    initPayload: "/greet",
    embedded: true,
    showFullScreenButton: false,
    title: "小申",
    subtitle: "一网通办智能客服",
    inputTextFieldHint: "请输入您的问题…",
    params: { storage: "local" }
  }, document.getElementById("webchat"));
})();
