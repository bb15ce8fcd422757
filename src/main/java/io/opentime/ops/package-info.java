/** Operations: metric names and meters (the management server that exposes them comes with its own issue). */
package io.opentime.ops;
