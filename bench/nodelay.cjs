// bench/nodelay.cjs: preloaded into the ssh-mcp peer (node --require) to turn
// TCP_NODELAY on for every socket it connects, the fix its SSH library lacks.
const net = require("net");
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
	this.setNoDelay(true);
	return connect.apply(this, args);
};
