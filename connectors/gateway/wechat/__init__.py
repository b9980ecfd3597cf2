"""The WeChat mini-program channel: crypto, push parsing, the server API and the service."""
