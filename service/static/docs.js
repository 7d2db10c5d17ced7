/* Starts Swagger UI on /docs over the server's own OpenAPI spec (a file, not inline: the page's CSP). */
window.addEventListener('load', function () {
  'use strict';
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
});
