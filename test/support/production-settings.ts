/** Settings a production start needs besides ENVIRONMENT (README: required in production), strong enough. */
export const PRODUCTION_SETTINGS: Record<string, string> = {
  JWT_SECRET: 'k7Qw9zR2mX4pL8vN1bY6cF3hJ5tG0sAa',
  REFRESH_TOKEN_PEPPER: 'pepper-one-0123456789abcdefghij',
  API_KEY_PEPPER: 'pepper-two-0123456789abcdefghij',
  CORS_ALLOWED_ORIGINS: 'https://app.example.com',
  METRICS_TOKEN: 'scrape-9f8e7d6c5b4a39281706',
  RECEIPT_SIGNING_KEY: 'mdxg7/LIAXTrB3rgZu/obbg/dOQ1chnNDwrA4FktBZA=',
};
