/* Swagger UI bootstrap, kept out of the HTML so the page needs no inline script under its CSP. */
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/api-docs/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // Each operation's x-required-scopes, x-required-roles, x-node-agent and x-rate-limit-tier.
    showExtensions: true,
    // No call to the public validator service: the page talks to this origin only.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
