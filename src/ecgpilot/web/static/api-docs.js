// Starts Swagger UI on the API's OpenAPI document (no inline script: the page's CSP forbids it).
window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({url: el.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true});
});
