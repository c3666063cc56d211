<?php
header("Content-Type: text/html; charset=UTF-8");
date_default_timezone_set("Asia/Shanghai");
require_once('wdtsdk.php');

$client = new WdtErpClient("url","wdtapi3","appkey","secret");

$parMap = new stdClass();
$parMap->modified_from = "2020-01-01 00:00:00";
$parMap->modified_to = "2020-01-20 00:00:00";

$pager = new Pager(1, 0, true);

$response = $client->pageCall("aftersales.refund.Refund.search",$pager,$parMap);

?>
