/** Operations: every metric name and meter in one place, and the management server (metrics, health). */
package io.opentime.ops;
