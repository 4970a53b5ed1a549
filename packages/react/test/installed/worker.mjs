import '@syncline/client/worker';
