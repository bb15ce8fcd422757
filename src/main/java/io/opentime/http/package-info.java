/**
 * The public HTTP API: one {@link io.opentime.http.HttpVerticle} per event loop, AMP for Email CORS, and the
 * error handling that keeps every answer to an email client a 200 with data or defaults (403 for a refused sender).
 */
package io.opentime.http;
