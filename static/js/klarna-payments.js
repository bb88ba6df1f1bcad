/* Klarna Payments widget (Klarna's documented JavaScript SDK, kp/lib/v1/api.js).
 *
 * init({client_token}) → load({container}) → on "Betala med Klarna": authorize(),
 * whose authorization_token is posted (with the page's CSRF token) to
 * payments.klarna_authorised, which places the order at Klarna on the server.
 */
(function () {
  "use strict";

  var root = document.getElementById("klarna-payments");
  var form = document.getElementById("klarna-authorise-form");
  var button = document.getElementById("klarna-pay");
  var status = document.getElementById("klarna-status");
  if (!root || !form || !button) {
    return;
  }
  var clientToken = root.getAttribute("data-client-token");
  var category = root.getAttribute("data-category") || "klarna";

  function say(message) {
    if (status) {
      status.textContent = message || "";
    }
  }

  function start() {
    window.Klarna.Payments.init({ client_token: clientToken });
    window.Klarna.Payments.load(
      { container: "#klarna-payments-container", payment_method_category: category },
      function (response) {
        if (response && response.show_form) {
          button.disabled = false;
        } else {
          say(root.getAttribute("data-msg-unavailable"));
        }
      }
    );
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    window.Klarna.Payments.authorize(
      { payment_method_category: category },
      {},
      function (response) {
        if (response && response.approved && response.authorization_token) {
          form.elements.authorization_token.value = response.authorization_token;
          form.submit();
          return;
        }
        button.disabled = !(response && response.show_form);
        if (response && !response.show_form) {
          say(root.getAttribute("data-msg-declined"));
        }
      }
    );
  });

  if (window.Klarna && window.Klarna.Payments) {
    start();
  } else {
    window.klarnaAsyncCallback = start;
  }
})();
