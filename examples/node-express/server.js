// A small Express app that shows what a shipway (or Platform.sh) environment gives it.
"use strict";

const fs = require("fs");
const path = require("path");
const express = require("express");

const appDir = process.env.PLATFORM_APP_DIR || __dirname;
const uploadsDir = path.join(appDir, "uploads");

// "ok" if the file can be written, else the error code (EROFS, EACCES...).
// With no content the file is only opened for appending, so a writable
// source file is left exactly as it was.
function tryWrite(file, content) {
  try {
    if (content === undefined) {
      fs.closeSync(fs.openSync(file, "a"));
    } else {
      fs.writeFileSync(file, content);
    }
    return "ok";
  } catch (err) {
    return err.code || String(err);
  }
}

const app = express();

app.get("/", (req, res) => {
  const branch = process.env.PLATFORM_BRANCH || "unknown branch";
  res.type("text/plain").send(`node-express example: hello from shipway\nbranch: ${branch}\n`);
});

app.get("/health", (req, res) => {
  res.type("text/plain").send("ok\n");
});

app.get("/writes", (req, res) => {
  res.json({
    code_write: tryWrite(path.join(appDir, "server.js")),
    mount_write: tryWrite(path.join(uploadsDir, "probe.txt"), "written by /writes\n"),
  });
});

app.get("/build-info", (req, res) => {
  try {
    res.json(JSON.parse(fs.readFileSync(path.join(appDir, "build-info.json"), "utf8")));
  } catch (err) {
    res.status(404).json({ error: `no build-info.json: ${err.code || err.message}` });
  }
});

const port = Number(process.env.PORT || 8080);
app.listen(port, "127.0.0.1", () => {
  console.log(`node-express example listening on 127.0.0.1:${port}`);
});
