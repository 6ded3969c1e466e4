!function(e){var t={accessKeyId:"{{AKIA}}",secretAccessKey:"{{SECRET_JSON}}",region:"us-east-1"};e.s3=new AWS.S3(t)}(window);var u="\u002F\u002B{{SECRET_UNICODE}}";
