/** The manager's REST API, client side. */
export * from './manager-client.js';
