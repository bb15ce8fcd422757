/**
 * Configuration: {@code conf/application.yaml} plus {@code OPENTIME_*} environment overrides, read once with
 * vertx-config and validated into immutable records. Every error names the key (or variable) at fault.
 */
package io.opentime.config;
